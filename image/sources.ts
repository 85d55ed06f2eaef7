/**
 * The image's inputs, derived from the repository rather than kept by hand: every module `bin/neurallog.ts`
 * reaches through static imports, `export … from` and literal dynamic `import()` (the CLI loads its commands
 * lazily), so a module moved to another folder is followed automatically. Only relative `.ts` specifiers are
 * repository files; bare specifiers are packages from the lockfile, `node:` ones are built in.
 */
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

export const ENTRY = "bin/neurallog.ts";

const MODULE_URL = /new URL\(\s*["'](\.{1,2}\/[^"']+\.ts)["']\s*,\s*import\.meta\.url\s*\)/g;

/** Repository-relative paths of every module the CLI can load, sorted. */
export function traceSources(root: string, entry = ENTRY): string[] {
  const seen = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    const absolute = path.join(root, file);
    if (!existsSync(absolute)) throw new Error(`image sources: ${file} is imported but does not exist`);
    seen.add(file);
    const text = readFileSync(absolute, "utf8");
    const { importedFiles } = ts.preProcessFile(text, true, true);
    // Modules started by URL rather than imported (worker threads: `new Worker(new URL("./x.ts", import.meta.url))`).
    const byUrl = [...text.matchAll(MODULE_URL)].map((m) => m[1]!);
    for (const fileName of [...importedFiles.map((f) => f.fileName), ...byUrl]) {
      if (!fileName.startsWith(".")) continue;
      pending.push(path.posix.normalize(path.posix.join(path.posix.dirname(file), fileName)));
    }
  }
  return [...seen].sort();
}

/** The builder's own files (git pathspecs): its README is documentation, not an input. */
export const BUILDER_INPUTS = ["image", ":(exclude)image/*.md"];

/**
 * Everything whose change changes the neurallog image: the modules, the manifest and lockfile of its
 * dependencies, and the builder itself. Never tenants/_platform.yaml, which pins the digest this build produces.
 */
export function imageInputs(root: string): string[] {
  return [...traceSources(root), "package.json", "package-lock.json", ...BUILDER_INPUTS];
}
