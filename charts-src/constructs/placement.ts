/**
 * A workload's placement (nodeSelector, tolerations, node affinity) as pod spec fields. Empty parts are left
 * out, so a tenant that says nothing renders exactly as before placement existed.
 */
import type * as k8s from "cdk8s-plus-33/lib/imports/k8s.js";
import type { ResolvedPlacement } from "../../contracts/resolved-tenant.ts";

export interface PodPlacement {
  readonly nodeSelector?: Record<string, string>;
  readonly tolerations?: k8s.Toleration[];
  readonly affinity?: k8s.Affinity;
}

/** `extra` is affinity NeuralLog itself adds (the server's pod anti-affinity); the tenant's node affinity joins it. */
export function podPlacement(placement: ResolvedPlacement, extra: k8s.Affinity = {}): PodPlacement {
  const affinity: k8s.Affinity = {
    ...(placement.affinity.nodeAffinity ? { nodeAffinity: placement.affinity.nodeAffinity } : {}),
    ...extra,
  };
  return {
    ...(Object.keys(placement.nodeSelector).length > 0
      ? { nodeSelector: { ...placement.nodeSelector } }
      : {}),
    ...(placement.tolerations.length > 0
      ? { tolerations: placement.tolerations.map((t) => ({ ...t })) }
      : {}),
    ...(Object.keys(affinity).length > 0 ? { affinity } : {}),
  };
}
