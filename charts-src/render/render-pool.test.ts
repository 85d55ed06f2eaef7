/**
 * Render threads give the same bytes as in-process rendering: the same tree of generated tenants and variants,
 * synthesized both ways into two folders, compared file by file. And a thread's error reaches the caller as the
 * error it was (a SynthError stays one), with no thread left running.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readOutput } from "../../test/synth/render-tree.ts";
import { exampleTenants, generatedTenant, VARIANTS, writeTenantDir } from "../../test/synth/tenant-sets.ts";
import { loadTenantTree, validTree } from "../model/load.ts";
import type { SynthInput } from "./synthesize.ts";
import { POOL_THRESHOLD, RenderPool, renderThreads } from "./render-pool.ts";
import { synthesize } from "./synthesize.ts";
import { SynthError } from "./synth-error.ts";

let work: string;
let tree: SynthInput;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "nl-render-pool-"));
  const generated = Array.from({ length: 40 }, (_, i) => generatedTenant(i));
  writeTenantDir(join(work, "tenants"), {
    ...exampleTenants(),
    ...VARIANTS,
    ...Object.fromEntries(generated.map((t) => [t.name, t.text])),
  });
  const loaded = validTree(await loadTenantTree(join(work, "tenants")));
  if (!loaded) throw new Error("the test tenants do not validate");
  tree = loaded;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("render threads", () => {
  it("write exactly the files in-process rendering writes", async () => {
    const pool = new RenderPool(2);
    try {
      const threaded = await synthesize(tree, join(work, "threaded"), { pool });
      const inProcess = await synthesize(tree, join(work, "in-process"), { pool: undefined });
      expect(threaded).toEqual(inProcess);
    } finally {
      await pool.close();
    }
    const threaded = readOutput(join(work, "threaded"));
    const inProcess = readOutput(join(work, "in-process"));
    expect(threaded.size).toBeGreaterThan(tree.tenants.length * 10);
    expect([...threaded.keys()]).toEqual([...inProcess.keys()]);
    for (const [file, content] of inProcess) expect(threaded.get(file), file).toBe(content);
  });

  it("pass a render error back as the error it was", async () => {
    const pool = new RenderPool(1);
    try {
      const tenant = { ...tree.tenants[0]!, name: "x".repeat(60) };
      const failed = pool.render(tenant, tree.platform);
      await expect(failed).rejects.toBeInstanceOf(SynthError);
      await expect(failed).rejects.toThrow(/names longer than/);
      // The thread is still there for the next tenant.
      expect((await pool.render(tree.tenants[0]!, tree.platform)).length).toBeGreaterThan(10);
    } finally {
      await pool.close();
    }
  });

  it("are used from the threshold on, and NEURALLOG_SYNTH_THREADS overrides", () => {
    expect(renderThreads(POOL_THRESHOLD - 1, {})).toBe(0);
    expect(renderThreads(POOL_THRESHOLD, {})).toBeGreaterThan(0);
    expect(renderThreads(1000, { NEURALLOG_SYNTH_THREADS: "0" })).toBe(0);
    expect(renderThreads(3, { NEURALLOG_SYNTH_THREADS: "3" })).toBe(3);
  });
});
