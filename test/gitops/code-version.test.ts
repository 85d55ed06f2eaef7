/**
 * The render cache's code version changes with everything that can change a cache entry (issue 12 item 18): a
 * module of charts-src, of contracts (rule validation lives there) or of gitops, and the lockfile; and not with
 * what cannot (tests, READMEs).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { computeCodeVersion } from "../../gitops/code-version.ts";

let root: string;
const put = async (relative: string, text: string) => {
  await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
  await writeFile(path.join(root, relative), text);
};

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "nl-code-version-"));
  await put("package.json", '{"version":"0.1.0"}');
  await put("package-lock.json", '{"lockfileVersion":3}');
  await put("charts-src/model/load.ts", "export const a = 1;");
  await put("contracts/rules/rule-validation.ts", "export const b = 1;");
  await put("gitops/cached-render.ts", "export const c = 1;");
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe("the render cache's code version", () => {
  it.each([
    ["a charts-src module", "charts-src/model/load.ts"],
    ["a contracts module (rule validation)", "contracts/rules/rule-validation.ts"],
    ["a new contracts module", "contracts/duration.ts"],
    ["a gitops module", "gitops/cached-render.ts"],
    ["the lockfile", "package-lock.json"],
  ])("changes with %s", async (_what, file) => {
    const before = await computeCodeVersion(root);
    await put(file, "// changed");
    expect(await computeCodeVersion(root)).not.toBe(before);
  });

  it.each([
    ["a test", "contracts/rules/rule-validation.test.ts"],
    ["a README", "contracts/README.md"],
    ["a module elsewhere", "server/app.ts"],
  ])("does not change with %s", async (_what, file) => {
    const before = await computeCodeVersion(root);
    await put(file, "// changed");
    expect(await computeCodeVersion(root)).toBe(before);
  });
});
