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
  V1Role,
  V1RoleBinding,
} from "@kubernetes/client-node";
import type { TenantObject } from "../../contracts/tenant-status.ts";

export interface TenantCache {
  readonly namespaces: ObjectCache<V1Namespace>;
  readonly configMaps: ObjectCache<V1ConfigMap>;
  readonly resourceQuotas: ObjectCache<V1ResourceQuota>;
  readonly limitRanges: ObjectCache<V1LimitRange>;
  readonly networkPolicies: ObjectCache<V1NetworkPolicy>;
  readonly roles: ObjectCache<V1Role>;
  readonly roleBindings: ObjectCache<V1RoleBinding>;
  readonly cronJobs: ObjectCache<V1CronJob>;
  /** Only `FailedCreate` Events (the informer's field selector). */
  readonly failedCreateEvents: ObjectCache<CoreV1Event>;
  /** The Tenant objects (tenants.neurallog.io) whose status the controller writes. */
  readonly tenants: ObjectCache<TenantObject>;
}

/**
 * A cache over a fixed list of objects, indexed by namespace like the informers' caches (frozen, so a reconcile
 * that mutates what it reads fails loudly).
 */
export function staticCache<T extends KubernetesObject>(objects: readonly T[]): ObjectCache<T> {
  const all = objects.map((object) => deepFreeze(structuredClone(object)));
  const byNamespace = new Map<string, T[]>();
  const byKey = new Map<string, T>();
  for (const object of all) {
    const namespace = object.metadata?.namespace ?? "";
    byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), object]);
    byKey.set(`${namespace}/${object.metadata?.name ?? ""}`, object);
  }
  return {
    get: (name, namespace) => byKey.get(`${namespace ?? ""}/${name}`),
    list: (namespace) => (namespace ? (byNamespace.get(namespace) ?? []) : all),
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
