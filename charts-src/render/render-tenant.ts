/** One tenant, the Argo CD objects and the platform, each rendered into manifest files (one per object). */
import type { ResolvedPlatform, ResolvedTenant } from "../../contracts/resolved-tenant.ts";
import { argocdObjects } from "../charts/argocd-chart.ts";
import { platformObjects } from "../charts/platform-chart.ts";
import { tenantObjects } from "../charts/tenant-chart.ts";
import { MAX_TENANT_NAME_LENGTH } from "../constructs/metadata.ts";
import type { SynthTenant } from "../model/resolve.ts";
import { type ManifestFile, toManifestFiles } from "./manifest-file.ts";
import { SynthError } from "./synth-error.ts";

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
