/**
 * Names, labels, annotations and Argo CD ordering shared by every construct of a tenant. One place decides how a
 * rendered object is named and labelled, so the constructs, the tests and the controller agree.
 */
import { createHash } from "node:crypto";
import type { ResolvedTenant } from "../../contracts/resolved-tenant.ts";

import { MANAGED_BY, PART_OF, TENANT_LABEL } from "../../contracts/tenant-configmap.ts";

// The names and labels the controller relies on are the contract's (contracts/tenant-configmap.ts).
export {
  MANAGED_BY,
  objectNames,
  PART_OF,
  TENANT_CONFIGMAP_NAME,
  TENANT_LABEL,
} from "../../contracts/tenant-configmap.ts";
export { MAX_TENANT_NAME_LENGTH } from "../model/tenant-schema.ts";

export type Component = "namespace" | "policy" | "redis" | "server" | "backup" | "config" | "tenant";

/**
 * Argo CD sync waves: namespace, then policies, then Redis, then the server, then the backup job, and last the
 * Tenant object, whose health (backups, quota; argocd/argocd-cm-patch.yaml) must never hold back a wave: its first
 * backup needs the backup job of the wave before it.
 */
export const SYNC_WAVE: Record<Component, number> = {
  namespace: -2,
  policy: -1,
  config: -1,
  redis: 0,
  server: 1,
  backup: 2,
  tenant: 3,
};

/** Objects whose deletion loses data (or everything): never pruned or deleted by Argo CD. */
export const KEEP_ON_DELETE = { "argocd.argoproj.io/sync-options": "Prune=false,Delete=false" } as const;

/** The labels that select a component's pods: stable, human-readable, never hashed. */
export function selectorLabels(tenant: ResolvedTenant, component: Component): Record<string, string> {
  return {
    "app.kubernetes.io/name": component === "redis" ? "redis" : "neurallog",
    "app.kubernetes.io/instance": tenant.name,
    "app.kubernetes.io/component": component,
  };
}

/** Every object of a tenant: the tenant's own labels, then the standard ones (which the tenant cannot override). */
export function tenantLabels(tenant: ResolvedTenant, component: Component): Record<string, string> {
  return {
    ...tenant.labels,
    ...selectorLabels(tenant, component),
    "app.kubernetes.io/part-of": PART_OF,
    "app.kubernetes.io/managed-by": MANAGED_BY,
    [TENANT_LABEL]: tenant.name,
  };
}

export function tenantAnnotations(
  tenant: ResolvedTenant,
  component: Component,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return {
    ...tenant.annotations,
    ...extra,
    "argocd.argoproj.io/sync-wave": String(SYNC_WAVE[component]),
  };
}

/** metadata for a namespaced object of the tenant. */
export function tenantMetadata(
  tenant: ResolvedTenant,
  component: Component,
  name: string,
  extraAnnotations: Readonly<Record<string, string>> = {},
) {
  return {
    name,
    namespace: tenant.namespace,
    labels: tenantLabels(tenant, component),
    annotations: tenantAnnotations(tenant, component, extraAnnotations),
  };
}

/** A pod-template annotation that changes with mounted configuration, so a config change rolls the pods. */
export function contentHash(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
