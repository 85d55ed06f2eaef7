/**
 * Rendered tenants kept on disk, keyed by what a rendering depends on: the tenant file's bytes, the platform
 * file's bytes and the code version. Rendering is a pure function of those, so a hit is exactly what a render
 * would produce, and `diff`/`publish` over 1000 tenants render only the ones whose inputs changed.
 *
 * Location: `$NEURALLOG_CACHE_DIR`, else `$XDG_CACHE_HOME/neurallog/render`, else `~/.cache/neurallog/render`.
 * Entries are written atomically (temp file + rename) so concurrent runs never read half an entry; an entry
 * that does not parse is treated as a miss. Deleting the folder is always safe.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import type { ResolvedTenant } from "../contracts/resolved-tenant.ts";

/** One rendered file, its path relative to the output root (`tenants/acme/namespace-nl-acme.yaml`). */
export interface RenderedFile {
  readonly path: string;
  readonly content: string;
}

export interface CachedTenant {
  readonly name: string;
  /** Kept for what the diff's danger checks compute from the spec (the workload footprint). */
  readonly resolved: ResolvedTenant;
  readonly files: readonly RenderedFile[];
}

export interface CachedPlatform {
  readonly files: readonly RenderedFile[];
}

export function defaultCacheDir(): string {
  if (process.env.NEURALLOG_CACHE_DIR) return process.env.NEURALLOG_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || path.join(homedir(), ".cache");
  return path.join(base, "neurallog", "render");
}

/** sha256 over length-prefixed parts, so no two different part lists hash alike. */
export function cacheKey(...parts: readonly (string | Uint8Array)[]): string {
  const hash = createHash("sha256");
  for (const part of parts) {
    const bytes = typeof part === "string" ? Buffer.from(part) : part;
    hash.update(`${bytes.length}:`);
    hash.update(bytes);
  }
  return hash.digest("hex");
}

export class RenderCache {
  readonly dir: string;
  hits = 0;
  misses = 0;
  /** The first failed write, if any, for a warning. */
  writeError: Error | undefined;

  constructor(dir: string = defaultCacheDir()) {
    this.dir = dir;
  }

  private file(key: string): string {
    return path.join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  async get<T>(key: string): Promise<T | undefined> {
    try {
      const value = JSON.parse(await readFile(this.file(key), "utf8")) as T;
      this.hits++;
      return value;
    } catch {
      this.misses++;
      return undefined;
    }
  }

  /** Stores VALUE; a cache that cannot be written (read-only home on a CI runner) only costs speed. */
  async put(key: string, value: CachedTenant | CachedPlatform): Promise<void> {
    const file = this.file(key);
    try {
      await mkdir(path.dirname(file), { recursive: true });
      const temp = `${file}.${randomUUID()}.tmp`;
      await writeFile(temp, JSON.stringify(value));
      await rename(temp, file);
    } catch (error) {
      this.writeError ??= error as Error;
    }
  }
}
