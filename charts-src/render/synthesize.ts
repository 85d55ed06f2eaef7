/**
 * Renders resolved tenants into an output folder — `tenants/<name>/`, `argocd/`, `platform/`, one file per
 * object — and removes what no longer belongs there. cdk8s's own `synth` would wipe the whole output folder; we
 * write and clean each folder ourselves, one tenant at a time, so memory stays flat with the number of tenants.
 *
 * Only these three folders are ever touched. Inside `tenants/` only directories are removed (the folders of
 * tenants that are gone), inside a rendered folder only stale `.yaml` files. A file whose content is already
 * right is not rewritten: re-rendering a large tree after a small change writes only what changed.
 *
 * Tenant folders are written while the next tenants render (a bounded number in flight): file creation is
 * the slowest part of synth on a disk, and on this machine's disk overlapping it through libuv's threads took
 * a third of the time of writing file after file. Large trees render in worker threads (render-pool.ts).
 */
import { readFile, writeFile } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { ResolvedPlatform } from "../../contracts/resolved-tenant.ts";
import type { SynthTenant } from "../model/resolve.ts";
import type { ManifestFile } from "./manifest-file.ts";
import { RenderPool, renderThreads } from "./render-pool.ts";
import { renderArgocd, renderPlatform, renderTenant, unrenderableReason } from "./render-tenant.ts";
import { SynthError } from "./synth-error.ts";

export { renderArgocd, renderPlatform, renderTenant, unrenderableReason, SynthError };

export const TENANTS_FOLDER = "tenants";
export const ARGOCD_FOLDER = "argocd";
export const PLATFORM_FOLDER = "platform";

export interface SynthInput {
  readonly platform: ResolvedPlatform;
  readonly tenants: readonly SynthTenant[];
}

export interface SynthResult {
  readonly tenants: number;
  readonly files: number;
  /** Files created or rewritten (the others already had the right content). */
  readonly written: number;
  /** Tenant folders removed because their tenant no longer exists. */
  readonly removedTenants: readonly string[];
}

// The callback forms: per file, `fs/promises` spends about twice the CPU (a FileHandle and a promise per step).
const readText = (path: string) =>
  new Promise<string>((done, fail) => readFile(path, "utf8", (e, text) => (e ? fail(e) : done(text))));
const writeText = (path: string, text: string) =>
  new Promise<void>((done, fail) => writeFile(path, text, (e) => (e ? fail(e) : done())));

/** Tenant folders being written while the next ones render; bounded so memory stays flat. */
const FOLDERS_IN_FLIGHT = 16;

/**
 * Writes `files` into `dir` (skipping those already right) and removes the `.yaml` files there that are not
 * among them. Resolves to how many files it wrote.
 */
async function writeFolder(dir: string, files: readonly ManifestFile[]): Promise<number> {
  let existing: Map<string, boolean>;
  try {
    existing = new Map((await readdir(dir, { withFileTypes: true })).map((e) => [e.name, e.isFile()]));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    await mkdir(dir, { recursive: true });
    existing = new Map();
  }
  const wanted = new Set(files.map((f) => f.name));
  const stale = [...existing].filter(
    ([name, isFile]) => isFile && name.endsWith(".yaml") && !wanted.has(name),
  );
  const written = await Promise.all([
    ...stale.map(async ([name]) => (await rm(join(dir, name)), 0)),
    ...files.map(async (file) => {
      const path = join(dir, file.name);
      if (existing.get(file.name) && (await readText(path)) === file.content) return 0;
      await writeText(path, file.content);
      return 1;
    }),
  ]);
  return written.reduce<number>((sum, n) => sum + n, 0);
}

export interface SynthOptions {
  /**
   * Render threads, started by the caller (so they load cdk8s while it still loads and validates); synthesize
   * does not close it. Default: a pool of its own when the tree is large enough (render-pool.ts), else in process.
   */
  readonly pool?: RenderPool;
}

export async function synthesize(
  input: SynthInput,
  outDir: string,
  options: SynthOptions = {},
): Promise<SynthResult> {
  const names = input.tenants.map((t) => t.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  const problems = [
    ...(duplicate ? [`tenant ${duplicate} appears twice`] : []),
    ...input.tenants.map(unrenderableReason).filter((r) => r !== undefined),
  ];
  if (problems.length > 0) throw new SynthError(problems.join("\n"));

  const threads = options.pool ? 0 : renderThreads(input.tenants.length);
  const ownPool = threads > 0 ? new RenderPool(threads) : undefined;
  const tenantsDir = join(resolve(outDir), TENANTS_FOLDER);
  let counts: { files: number; written: number };
  try {
    counts = await writeTenants(input, tenantsDir, options.pool ?? ownPool);
  } finally {
    await ownPool?.close();
  }

  const current = new Set(names);
  const removedTenants: string[] = [];
  for (const entry of await readdir(tenantsDir, { withFileTypes: true })) {
    if (entry.isDirectory() && !current.has(entry.name)) {
      await rm(join(tenantsDir, entry.name), { recursive: true, force: true });
      removedTenants.push(entry.name);
    }
  }

  const argocd = renderArgocd(input.tenants, input.platform);
  const platform = renderPlatform(input.platform);
  let { files, written } = counts;
  written += await writeFolder(join(resolve(outDir), ARGOCD_FOLDER), argocd);
  written += await writeFolder(join(resolve(outDir), PLATFORM_FOLDER), platform);
  files += argocd.length + platform.length;

  return { tenants: input.tenants.length, files, written, removedTenants: removedTenants.sort() };
}

/**
 * Renders every tenant (in `pool`'s threads, or in process) and writes its folder, a bounded number of tenants
 * in flight. The first render error is thrown as it is; a write error says which folder.
 */
async function writeTenants(
  input: SynthInput,
  tenantsDir: string,
  pool: RenderPool | undefined,
): Promise<{ files: number; written: number }> {
  await mkdir(tenantsDir, { recursive: true });
  let files = 0;
  let written = 0;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const failed = (error: unknown): void => void (failure ??= error);
  try {
    for (const tenant of input.tenants) {
      if (failure !== undefined) break;
      const rendered = pool
        ? pool.render(tenant, input.platform)
        : Promise.resolve(renderTenant(tenant, input.platform));
      const folder = join(tenantsDir, tenant.name);
      // Never rejects (failures are kept), so no render or write can fail unobserved.
      const job: Promise<void> = rendered
        .then(
          (manifests) => {
            files += manifests.length;
            return writeFolder(folder, manifests).then(
              (n) => void (written += n),
              (error: unknown) => failed(new Error(`cannot write ${folder}`, { cause: error })),
            );
          },
          (error: unknown) => failed(error),
        )
        .finally(() => inFlight.delete(job));
      inFlight.add(job);
      if (inFlight.size >= FOLDERS_IN_FLIGHT) await Promise.race(inFlight);
    }
  } catch (error) {
    // An in-process render error, thrown synchronously.
    failed(error);
  }
  // Also after an error: no write may still be running when synth returns.
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
  return { files, written };
}
