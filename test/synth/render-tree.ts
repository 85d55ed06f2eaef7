/** Runs synth in-process the way the CLI does (load, validate, render) and reads the output folder back. */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { formatDiagnostic, loadTenantTree, validTree } from "../../charts-src/model/load.ts";
import { type SynthResult, synthesize } from "../../charts-src/render/synthesize.ts";

export async function renderTenantDir(tenantsDir: string, outDir: string): Promise<SynthResult> {
  const loaded = await loadTenantTree(tenantsDir);
  const tree = validTree(loaded);
  if (!tree)
    throw new Error(`test tenants do not validate:\n${loaded.diagnostics.map(formatDiagnostic).join("\n")}`);
  return synthesize(tree, outDir);
}

/** Every file under `dir` as `relative path → content`, in sorted order. */
export function readOutput(dir: string): Map<string, string> {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
  return new Map(files.map((file) => [file, readFileSync(join(dir, file), "utf8")]));
}
