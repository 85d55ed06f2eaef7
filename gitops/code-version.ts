/**
 * The version of the rendering code, for render-cache keys: a hash of everything whose change can change what a
 * cache entry holds, so a hit is always what a fresh validate-and-render would give. That is every module under
 * `charts-src/` (the loader, the checks and the constructs), `contracts/` (which charts-src imports: the resolved
 * shapes, rule validation, parsers) and `gitops/` (which shapes the entries), plus `package.json` and the
 * lockfile (cdk8s, Ajv and the other packages the rendering runs on). The lint zones (eslint.config.js) keep
 * charts-src from importing anything else of ours, so these folders are the whole closure.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export const RENDERING_FOLDERS = ["charts-src", "contracts", "gitops"] as const;
export const RENDERING_FILES = ["package.json", "package-lock.json"] as const;

let memo: Promise<string> | undefined;

export function codeVersion(): Promise<string> {
  memo ??= computeCodeVersion(PACKAGE_ROOT);
  return memo;
}

/** The hash for the checkout at ROOT (exported for tests; the product asks `codeVersion()`). */
export async function computeCodeVersion(root: string): Promise<string> {
  const hash = createHash("sha256");
  const entry = async (relative: string) => {
    hash.update(`${relative}\0`);
    hash.update(await readFile(path.join(root, relative)));
    hash.update("\0");
  };
  for (const file of RENDERING_FILES) await entry(file);
  for (const folder of RENDERING_FOLDERS) {
    const files = (await readdir(path.join(root, folder), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
      .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
      .sort();
    for (const file of files) await entry(file);
  }
  return hash.digest("hex");
}
