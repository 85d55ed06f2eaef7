/**
 * Golden files: the example tenants render to exactly the committed files under `__snapshots__/examples/`,
 * byte for byte, and to no other file. A deliberate change refreshes them with
 * `UPDATE_GOLDEN=1 npx vitest run test/synth/golden.test.ts` (then review the diff like any code change).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLES_DIR } from "./tenant-sets.ts";
import { readOutput, renderTenantDir } from "./render-tree.ts";

const GOLDEN_DIR = fileURLToPath(new URL("./__snapshots__/examples/", import.meta.url));

describe("synth of the example tenants", () => {
  let work: string;
  let rendered: Map<string, string>;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "nl-golden-"));
    await renderTenantDir(EXAMPLES_DIR, join(work, "out"));
    rendered = readOutput(join(work, "out"));
    if (process.env.UPDATE_GOLDEN === "1") {
      rmSync(GOLDEN_DIR, { recursive: true, force: true });
      await cp(join(work, "out"), GOLDEN_DIR, { recursive: true });
    }
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("renders the same set of files as the golden folder", () => {
    expect([...rendered.keys()]).toEqual([...readOutput(GOLDEN_DIR).keys()]);
  });

  it("renders every file byte for byte as the golden file", () => {
    const golden = readOutput(GOLDEN_DIR);
    const differing = [...rendered].filter(([file, content]) => golden.get(file) !== content).map(([f]) => f);
    expect(
      differing,
      "run UPDATE_GOLDEN=1 npx vitest run test/synth/golden.test.ts after a deliberate change",
    ).toEqual([]);
  });
});
