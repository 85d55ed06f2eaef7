/**
 * The version of the rendering code, for render-cache keys: the package version plus a hash of every source
 * file under `charts-src/`. Editing a construct invalidates every cached rendering; nothing else does.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

let memo: Promise<string> | undefined;

export function codeVersion(): Promise<string> {
  memo ??= computeCodeVersion();
  return memo;
}

async function computeCodeVersion(): Promise<string> {
  const hash = createHash("sha256");
  const pkg = JSON.parse(await readFile(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as {
    version: string;
  };
  hash.update(`neurallog ${pkg.version}\0`);
  const root = path.join(PACKAGE_ROOT, "charts-src");
  const files = (await readdir(root, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  for (const file of files) {
    hash.update(`${path.relative(root, file)}\0`);
    hash.update(await readFile(file));
    hash.update("\0");
  }
  return hash.digest("hex");
}
