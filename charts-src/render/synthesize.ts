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
 * a third of the time of writing file after file.
 */
import { readFile, writeFile } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { ResolvedPlatform, ResolvedTenant } from "../../contracts/resolved-tenant.ts";
import type { SynthTenant } from "../model/resolve.ts";
import { argocdObjects } from "../charts/argocd-chart.ts";
import { platformObjects } from "../charts/platform-chart.ts";
import { tenantObjects } from "../charts/tenant-chart.ts";
import { MAX_TENANT_NAME_LENGTH } from "../constructs/metadata.ts";
import { type ManifestFile, toManifestFiles } from "./manifest-file.ts";

export const TENANTS_FOLDER = "tenants";
export const ARGOCD_FOLDER = "argocd";
export const PLATFORM_FOLDER = "platform";

/** Input synth refuses as a whole, before it writes anything. */
export class SynthError extends Error {}

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

/** Why synth cannot render this tenant (a limit of the rendered objects, not of the tenant file), if so. */
export function unrenderableReason(tenant: ResolvedTenant): string | undefined {
  if (tenant.name.length <= MAX_TENANT_NAME_LENGTH) return undefined;
  return `tenant ${tenant.name}: names longer than ${MAX_TENANT_NAME_LENGTH} characters make object names Kubernetes refuses (the backup CronJob ${tenant.name}-backup may have at most 52)`;
}

export function renderTenant(tenant: SynthTenant, platform: ResolvedPlatform): ManifestFile[] {
  const reason = unrenderableReason(tenant);
  if (reason) throw new SynthError(reason);
  return toManifestFiles(tenantObjects(tenant, platform));
}

export function renderArgocd(tenants: readonly ResolvedTenant[], platform: ResolvedPlatform): ManifestFile[] {
  return toManifestFiles(argocdObjects(tenants, platform));
}

export function renderPlatform(platform: ResolvedPlatform): ManifestFile[] {
  return toManifestFiles(platformObjects(platform));
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

export async function synthesize(input: SynthInput, outDir: string): Promise<SynthResult> {
  const names = input.tenants.map((t) => t.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  const problems = [
    ...(duplicate ? [`tenant ${duplicate} appears twice`] : []),
    ...input.tenants.map(unrenderableReason).filter((r) => r !== undefined),
  ];
  if (problems.length > 0) throw new SynthError(problems.join("\n"));

  const tenantsDir = join(resolve(outDir), TENANTS_FOLDER);
  await mkdir(tenantsDir, { recursive: true });
  let files = 0;
  let written = 0;
  const inFlight = new Set<Promise<void>>();
  const failures: unknown[] = [];
  let renderError: unknown;
  try {
    for (const tenant of input.tenants) {
      if (failures.length > 0) break;
      const rendered = renderTenant(tenant, input.platform);
      files += rendered.length;
      const folder = join(tenantsDir, tenant.name);
      // Never rejects (failures are collected), so no write can fail unobserved.
      const writing: Promise<void> = writeFolder(folder, rendered)
        .then((n) => void (written += n))
        .catch((error: unknown) => void failures.push(new Error(`cannot write ${folder}`, { cause: error })))
        .finally(() => inFlight.delete(writing));
      inFlight.add(writing);
      if (inFlight.size >= FOLDERS_IN_FLIGHT) await Promise.race(inFlight);
    }
  } catch (error) {
    renderError = error;
  }
  // Also after a render error: no write may still be running when synthesize returns.
  await Promise.all(inFlight);
  if (renderError !== undefined) throw renderError;
  if (failures.length > 0) throw failures[0];

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
  written += await writeFolder(join(resolve(outDir), ARGOCD_FOLDER), argocd);
  written += await writeFolder(join(resolve(outDir), PLATFORM_FOLDER), platform);
  files += argocd.length + platform.length;

  return { tenants: input.tenants.length, files, written, removedTenants: removedTenants.sort() };
}
