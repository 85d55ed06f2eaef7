/**
 * `neurallog diff`: renders the tenant directory at a base ref and in the working tree, and compares them per
 * tenant. A tenant is rendered only when its file or the platform file differs between the two (compared by
 * git blob id, so unchanged tenants are not even read from git); renderings come from the render cache when
 * their inputs were rendered before. One changed tenant among 1000 costs one tenant's work.
 *
 * Both sides are rendered with the code checked out now: the diff shows what the tenant change does. (A change
 * of the rendering code itself shows when publishing: the deployment repo holds the previous rendering.)
 */
import type { Diagnostic } from "../charts-src/index.ts";
import { filesAtRef, gitBlobId, readBlobs, tenantDirAtRef } from "./base-ref.ts";
import { renderCached, type RenderOutcome } from "./cached-render.ts";
import { diffSection, PLATFORM_SECTION, type SectionDiff } from "./manifest-diff.ts";
import type { RenderCache } from "./render-cache.ts";
import {
  PLATFORM_FILE,
  readTreeSource,
  tenantNameOf,
  type TenantSourceFile,
  type TreeSource,
} from "./tenant-source.ts";

export interface TreeDiff {
  /** The commit the base ref resolved to. */
  readonly baseCommit: string;
  readonly tenantsCompared: number;
  /** Tenants whose rendering inputs differ (and were therefore rendered). */
  readonly tenantsRendered: number;
  /** Sections with changes: tenants by name, then the platform. */
  readonly sections: readonly SectionDiff[];
  /** Errors that stopped the diff: the working tree's, or the base's (then named as such). */
  readonly diagnostics: readonly Diagnostic[];
}

export async function diffTenantTree(
  tenantsDir: string,
  baseRef: string,
  cache: RenderCache,
): Promise<TreeDiff> {
  const at = await tenantDirAtRef(tenantsDir, baseRef);
  const [head, listing] = await Promise.all([readTreeSource(tenantsDir), filesAtRef(at)]);

  const baseTenants = new Map<string, { fileName: string; blob: string }>();
  for (const [fileName, blob] of listing) {
    const name = tenantNameOf(fileName);
    if (name !== undefined) baseTenants.set(name, { fileName, blob });
  }
  const basePlatformBlob = listing.get(PLATFORM_FILE);
  const platformChanged = basePlatformBlob !== (head.platform ? gitBlobId(head.platform) : undefined);
  const names = [...new Set([...baseTenants.keys(), ...head.tenants.keys()])].sort();
  const changed = names.filter((name) => {
    const b = baseTenants.get(name);
    const h = head.tenants.get(name);
    // The platform file is an input of every tenant's rendering.
    return platformChanged || !b || !h || b.fileName !== h.fileName || b.blob !== gitBlobId(h.bytes);
  });
  const summary = { baseCommit: at.commit, tenantsCompared: names.length, tenantsRendered: changed.length };

  const headOut = await renderCached(
    head,
    changed.filter((n) => head.tenants.has(n)),
    { cache, platform: platformChanged },
  );
  if (headOut.diagnostics.length > 0) return { ...summary, sections: [], diagnostics: headOut.diagnostics };

  const baseChanged = changed.filter((n) => baseTenants.has(n));
  const blobs = await readBlobs(at, [
    ...(basePlatformBlob ? [basePlatformBlob] : []),
    ...baseChanged.map((n) => baseTenants.get(n)!.blob),
  ]);
  const base: TreeSource = {
    dir: `${baseRef}:${at.prefix}`,
    ...(basePlatformBlob ? { platform: blobs.get(basePlatformBlob)! } : {}),
    tenants: new Map(
      baseChanged.map((name): [string, TenantSourceFile] => {
        const { fileName, blob } = baseTenants.get(name)!;
        return [name, { name, fileName, bytes: blobs.get(blob)! }];
      }),
    ),
  };
  const baseOut = await renderCached(base, baseChanged, { cache, platform: platformChanged });
  if (baseOut.diagnostics.length > 0) {
    // The base was merged, so it validated once; most likely the checks got stricter since.
    const diagnostics = baseOut.diagnostics.map((d) => ({ ...d, message: `(at ${baseRef}) ${d.message}` }));
    return { ...summary, sections: [], diagnostics };
  }

  const otherNamespaces = namespacesOf(names, headOut, baseOut);
  const sections: SectionDiff[] = [];
  for (const name of changed) {
    const headTenant = headOut.tenants.get(name);
    const others = new Set([...otherNamespaces].filter((ns) => ns !== headTenant?.resolved.namespace));
    const section = diffSection(name, baseOut.tenants.get(name)?.files, headTenant?.files, {
      ...(headTenant ? { headTenant: headTenant.resolved } : {}),
      otherNamespaces: others,
    });
    if (section) sections.push(section);
  }
  if (platformChanged) {
    const section = diffSection(PLATFORM_SECTION, baseOut.platform?.files, headOut.platform?.files, {
      otherNamespaces,
    });
    if (section) sections.push(section);
  }
  return { ...summary, sections, diagnostics: [] };
}

/**
 * Tenant namespaces known without rendering every tenant: the default `nl-<name>` of every tenant, plus the
 * actual namespace of each rendered one (which may be overridden in its spec).
 */
function namespacesOf(names: readonly string[], ...outcomes: RenderOutcome[]): Set<string> {
  const namespaces = new Set(names.map((n) => `nl-${n}`));
  for (const outcome of outcomes)
    for (const t of outcome.tenants.values()) namespaces.add(t.resolved.namespace);
  return namespaces;
}
