/**
 * The tenant's Namespace (Pod Security `restricted`, enforced, warned and audited), its ResourceQuota and its
 * LimitRange.
 */
import { Construct } from "constructs";
import * as k8s from "cdk8s-plus-33/lib/imports/k8s.js";
import type { ResolvedResourceList, ResolvedTenant } from "../../contracts/resolved-tenant.ts";
import { KEEP_ON_DELETE, tenantAnnotations, tenantLabels, tenantMetadata } from "./metadata.ts";

/**
 * Pod Security Admission level for every namespace we render. The version pin `latest` follows the API server,
 * so a cluster upgrade tightens the policy instead of freezing it at an old release.
 */
export const POD_SECURITY_LABELS = {
  "pod-security.kubernetes.io/enforce": "restricted",
  "pod-security.kubernetes.io/enforce-version": "latest",
  "pod-security.kubernetes.io/warn": "restricted",
  "pod-security.kubernetes.io/warn-version": "latest",
  "pod-security.kubernetes.io/audit": "restricted",
  "pod-security.kubernetes.io/audit-version": "latest",
} as const;

export const RESOURCE_QUOTA_NAME = "neurallog-quota";
export const LIMIT_RANGE_NAME = "neurallog-limits";

export function quantities(
  list: Readonly<Partial<Record<string, string>>> | undefined,
): Record<string, k8s.Quantity> | undefined {
  if (!list) return undefined;
  const result: Record<string, k8s.Quantity> = {};
  for (const [key, value] of Object.entries(list)) {
    if (value !== undefined) result[key] = k8s.Quantity.fromString(value);
  }
  return result;
}

export class TenantNamespace extends Construct {
  constructor(scope: Construct, id: string, tenant: ResolvedTenant) {
    super(scope, id);
    new k8s.KubeNamespace(this, "namespace", {
      metadata: {
        name: tenant.namespace,
        labels: { ...tenantLabels(tenant, "namespace"), ...POD_SECURITY_LABELS },
        annotations: tenantAnnotations(tenant, "namespace", {
          ...KEEP_ON_DELETE,
          "neurallog.io/display-name": tenant.displayName,
        }),
      },
    });

    new k8s.KubeResourceQuota(this, "quota", {
      metadata: tenantMetadata(tenant, "policy", RESOURCE_QUOTA_NAME),
      spec: { hard: quantities(tenant.quota.hard) },
    });

    const range = tenant.limitRange;
    const list = (l: Partial<ResolvedResourceList> | undefined) => quantities(l);
    new k8s.KubeLimitRange(this, "limit-range", {
      metadata: tenantMetadata(tenant, "policy", LIMIT_RANGE_NAME),
      spec: {
        limits: [
          {
            type: "Container",
            default: list(range.default),
            defaultRequest: list(range.defaultRequest),
            max: list(range.max),
            min: list(range.min),
          },
        ],
      },
    });
  }
}
