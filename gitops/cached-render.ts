/**
 * Renders tenants through the render cache. Hits cost a file read; misses are validated and rendered with the
 * same loader and the same in-process synth functions as `neurallog synth`, then stored. The rendering code
 * (cdk8s and the loader) is imported only on a miss, so a warm run never pays for loading it.
 *
 * A tenant's output is its folder `tenants/<name>/` plus its own Argo CD objects (its AppProject); the
 * platform's is `platform/` plus the Argo CD objects shared by all tenants (the ApplicationSet). Together they
 * are exactly what `synthesize()` writes (a test holds the two to that).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Diagnostic, SynthTenant } from "../charts-src/index.ts";
import type { ResolvedPlatform } from "../contracts/resolved-tenant.ts";
import { codeVersion } from "./code-version.ts";
import {
  cacheKey,
  type CachedPlatform,
  type CachedTenant,
  type RenderCache,
  type RenderedFile,
} from "./render-cache.ts";
import type { TreeSource } from "./tenant-source.ts";

export interface RenderOutcome {
  readonly tenants: ReadonlyMap<string, CachedTenant>;
  /** Present when asked for and the platform file is valid. */
  readonly platform?: CachedPlatform;
  /** Errors of the files that had to be validated, pointing at the files in `source.dir`. */
  readonly diagnostics: readonly Diagnostic[];
}

export interface TreeKeys {
  readonly platform: string;
  readonly tenants: ReadonlyMap<string, string>;
}

/** Cache keys of every tenant of SOURCE and of its platform output: equal keys, equal rendering. */
export async function treeKeys(source: TreeSource): Promise<TreeKeys> {
  const code = await codeVersion();
  const platform = source.platform ?? Buffer.alloc(0);
  const tenants = new Map<string, string>();
  for (const [name, tenant] of source.tenants) {
    tenants.set(name, cacheKey("tenant", code, platform, tenant.fileName, tenant.bytes));
  }
  return { platform: cacheKey("platform", code, platform), tenants };
}

export async function renderCached(
  source: TreeSource,
  names: readonly string[],
  options: { readonly cache: RenderCache; readonly platform?: boolean },
): Promise<RenderOutcome> {
  const { cache } = options;
  const keys = await treeKeys(source);
  const tenants = new Map<string, CachedTenant>();
  const misses: string[] = [];
  for (const name of names) {
    const key = keys.tenants.get(name);
    if (key === undefined) throw new Error(`no tenant ${name} in ${source.dir}`);
    const hit = await cache.get<CachedTenant>(key);
    if (hit) tenants.set(name, hit);
    else misses.push(name);
  }
  let platform = options.platform ? await cache.get<CachedPlatform>(keys.platform) : undefined;
  const platformMiss = options.platform === true && platform === undefined;
  if (misses.length === 0 && !platformMiss)
    return { tenants, ...(platform ? { platform } : {}), diagnostics: [] };

  const loaded = await loadSubset(source, misses);
  if (loaded.diagnostics.length > 0 || !loaded.platform) {
    return { tenants, diagnostics: loaded.diagnostics };
  }
  const render = await (await import("../charts-src/index.ts")).loadRenderer();
  const shared = render.renderArgocd([], loaded.platform);
  const sharedNames = new Set(shared.map((f) => f.name));
  for (const resolved of loaded.tenants) {
    const entry: CachedTenant = {
      name: resolved.name,
      resolved,
      files: [
        ...render.renderTenant(resolved, loaded.platform).map((f) => file(`tenants/${resolved.name}`, f)),
        // The tenant's own Argo CD objects: what rendering it adds to the shared ones.
        ...render
          .renderArgocd([resolved], loaded.platform)
          .filter((f) => !sharedNames.has(f.name))
          .map((f) => file("argocd", f)),
      ],
    };
    tenants.set(resolved.name, entry);
    await cache.put(keys.tenants.get(resolved.name)!, entry);
  }
  if (platformMiss) {
    platform = {
      files: [
        ...render.renderPlatform(loaded.platform).map((f) => file("platform", f)),
        ...shared.map((f) => file("argocd", f)),
      ],
    };
    await cache.put(keys.platform, platform);
  }
  return { tenants, ...(platform ? { platform } : {}), diagnostics: [] };
}

function file(folder: string, f: { name: string; content: string }): RenderedFile {
  return { path: `${folder}/${f.name}`, content: f.content };
}

/**
 * Validates and resolves the tenants NAMES of SOURCE (and its platform file) with the loader, from a scratch
 * folder holding only those files: only what must be rendered is validated. Cross-tenant checks against the
 * other tenants are `neurallog validate`'s job. Diagnostics are mapped back to the files in `source.dir`.
 */
async function loadSubset(
  source: TreeSource,
  names: readonly string[],
): Promise<{ platform?: ResolvedPlatform; tenants: SynthTenant[]; diagnostics: Diagnostic[] }> {
  const { loadTenantTree, PLATFORM_FILE } = await import("../charts-src/index.ts");
  const scratch = await mkdtemp(path.join(tmpdir(), "neurallog-render-"));
  try {
    if (source.platform) await writeFile(path.join(scratch, PLATFORM_FILE), source.platform);
    for (const name of names) {
      const tenant = source.tenants.get(name)!;
      await writeFile(path.join(scratch, tenant.fileName), tenant.bytes);
    }
    const result = await loadTenantTree(scratch);
    const diagnostics = result.diagnostics
      .filter((d) => d.severity === "error")
      .map((d) => ({ ...d, file: path.join(source.dir, path.relative(scratch, d.file)) }));
    const tenants = result.tenants.flatMap((t) => (t.resolved ? [t.resolved] : []));
    return { ...(result.platform ? { platform: result.platform.resolved } : {}), tenants, diagnostics };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Every file of the outcome: the platform's, then each tenant's. */
export function renderedFiles(outcome: RenderOutcome): RenderedFile[] {
  return [...(outcome.platform?.files ?? []), ...[...outcome.tenants.values()].flatMap((t) => t.files)];
}

/** Writes a whole rendered tree (as `synthesize()` lays it out) into OUT, which must not exist or be empty. */
export async function writeRenderedTree(outcome: RenderOutcome, out: string): Promise<number> {
  const files = renderedFiles(outcome);
  for (const f of files) {
    await mkdir(path.dirname(path.join(out, f.path)), { recursive: true });
    await writeFile(path.join(out, f.path), f.content);
  }
  return files.length;
}
