/**
 * The read-only view of the cluster that reconcile works from: one object cache per watched resource. In the
 * running controller these are the informers' caches; in unit tests, fixed lists (`staticCache`).
 */
import type {
  CoreV1Event,
  KubernetesObject,
  ObjectCache,
  V1ConfigMap,
  V1CronJob,
  V1LimitRange,
  V1Namespace,
  V1NetworkPolicy,
  V1ResourceQuota,
} from "@kubernetes/client-node";

export interface TenantCache {
  readonly namespaces: ObjectCache<V1Namespace>;
  readonly configMaps: ObjectCache<V1ConfigMap>;
  readonly resourceQuotas: ObjectCache<V1ResourceQuota>;
  readonly limitRanges: ObjectCache<V1LimitRange>;
  readonly networkPolicies: ObjectCache<V1NetworkPolicy>;
  readonly cronJobs: ObjectCache<V1CronJob>;
  /** Only `FailedCreate` Events (the informer's field selector). */
  readonly failedCreateEvents: ObjectCache<CoreV1Event>;
}

/** A cache over a fixed list of objects (frozen, so a reconcile that mutates what it reads fails loudly). */
export function staticCache<T extends KubernetesObject>(objects: readonly T[]): ObjectCache<T> {
  const frozen = objects.map((object) => deepFreeze(structuredClone(object)));
  return {
    get: (name, namespace) =>
      frozen.find((o) => o.metadata?.name === name && (o.metadata?.namespace ?? "") === (namespace ?? "")),
    list: (namespace) => (namespace ? frozen.filter((o) => o.metadata?.namespace === namespace) : frozen),
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
