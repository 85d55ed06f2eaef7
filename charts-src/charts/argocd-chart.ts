/** `OUT/argocd/`: one AppProject per tenant and the ApplicationSet that makes their Applications. */
import { App, Chart } from "cdk8s";
import type { ResolvedPlatform, ResolvedTenant } from "../../contracts/resolved-tenant.ts";
import { TenantApplicationSet, TenantProject } from "../constructs/argocd.ts";

export class ArgocdChart extends Chart {
  constructor(scope: App, tenants: readonly ResolvedTenant[], platform: ResolvedPlatform) {
    super(scope, "argocd", { disableResourceNameHashes: true });
    new TenantApplicationSet(this, "applicationset", platform);
    for (const tenant of tenants) new TenantProject(this, `project-${tenant.name}`, tenant, platform);
  }
}

export function argocdObjects(
  tenants: readonly ResolvedTenant[],
  platform: ResolvedPlatform,
): Record<string, unknown>[] {
  return new ArgocdChart(new App(), tenants, platform).toJson();
}
