/**
 * A realistic tenant for the controller's tests: the `acme` example resolved against the example platform and
 * rendered by synth itself (TenantChart), so the tenant ConfigMap is exactly what the controller meets in a
 * cluster. `clusterObjects()` is the cluster side after Argo CD synced it, as the API server returns it (quota
 * status filled in, a server-defaulted field, a foreign label). Tests change copies, never the fixtures.
 */
import { readFileSync } from "node:fs";
import type {
  CoreV1Event,
  V1ConfigMap,
  V1CronJob,
  V1LimitRange,
  V1Namespace,
  V1NetworkPolicy,
  V1ResourceQuota,
  V1Role,
  V1RoleBinding,
} from "@kubernetes/client-node";
import { parse } from "yaml";
import { tenantObjects } from "../../charts-src/charts/tenant-chart.ts";
import { resolvePlatform, resolveTenant } from "../../charts-src/model/resolve.ts";
import type { PlatformFile, TenantFile } from "../../charts-src/model/tenant-schema.ts";
import { staticCache, type TenantCache } from "../../controller/informers/tenant-cache.ts";
import type { TenantObject } from "../../contracts/tenant-status.ts";

const read = (file: string) => parse(readFileSync(new URL(`../../tenants/${file}`, import.meta.url), "utf8"));

export const NS = "nl-acme";
export const NOW = new Date("2026-11-27T12:00:00Z");

/** Everything synth renders for `acme`, as JSON (rendered once: cdk8s takes a moment). */
const rendered: readonly Record<string, unknown>[] = (() => {
  const platform = read("_platform.yaml") as PlatformFile;
  return tenantObjects(resolveTenant(read("acme.yaml") as TenantFile, platform), resolvePlatform(platform));
})();

function renderedObject<T>(kind: string, name?: string): T {
  const found = rendered.find(
    (o) => o.kind === kind && (name === undefined || (o.metadata as { name: string }).name === name),
  );
  if (!found) throw new Error(`synth rendered no ${kind} ${name ?? ""}`);
  return structuredClone(found) as T;
}

export function renderedNetworkPolicies(): V1NetworkPolicy[] {
  return rendered.filter((o) => o.kind === "NetworkPolicy").map((o) => structuredClone(o) as V1NetworkPolicy);
}

/** The rendered Tenant object as the API server returns it (generation 1, no status yet). */
export function tenantObject(): TenantObject {
  const tenant = renderedObject<TenantObject & { metadata: { generation?: number } }>("Tenant");
  tenant.metadata.generation = 1;
  return tenant;
}

export function tenantConfigMap(): V1ConfigMap {
  return renderedObject<V1ConfigMap>("ConfigMap", "neurallog-tenant");
}

export function clusterObjects() {
  const namespace = renderedObject<V1Namespace>("Namespace");
  namespace.metadata!.uid = "ns-uid-1";
  const quota = renderedObject<V1ResourceQuota>("ResourceQuota");
  quota.metadata!.resourceVersion = "41";
  // The API server's spelling of the same value: "2048Mi" is "2Gi".
  quota.spec!.hard!["requests.memory"] = "2048Mi";
  quota.status = {
    hard: { ...quota.spec!.hard },
    used: Object.fromEntries(Object.keys(quota.spec!.hard!).map((resource) => [resource, "0"])),
  };
  quota.status.used!.pods = "4";
  quota.status.used!["requests.cpu"] = "500m";
  const limitRange = renderedObject<V1LimitRange>("LimitRange");
  // Labels other tools add (Argo CD's tracking) are not ours.
  limitRange.metadata!.labels!["argocd.argoproj.io/instance"] = "tenant-acme";
  const cronJob = renderedObject<V1CronJob>("CronJob");
  cronJob.metadata!.creationTimestamp = new Date("2026-11-01T00:00:00Z");
  cronJob.status = { lastSuccessfulTime: new Date("2026-11-27T01:31:10Z") };
  return {
    namespace,
    configMap: tenantConfigMap(),
    quota,
    limitRange,
    networkPolicies: renderedNetworkPolicies(),
    cronJob: cronJob as V1CronJob | undefined,
    events: [] as CoreV1Event[],
    roles: [] as V1Role[],
    // The controller's own, as synth renders it.
    roleBindings: [renderedObject<V1RoleBinding>("RoleBinding")],
    /** Left out by default (as before Argo CD synced it): tests of the status add `tenantObject()`. */
    tenant: undefined as TenantObject | undefined,
  };
}

export type ClusterObjects = ReturnType<typeof clusterObjects>;

export function cacheOf(objects: Partial<ClusterObjects>): TenantCache {
  const some = <T>(value: T | undefined): T[] => (value ? [value] : []);
  return {
    namespaces: staticCache(some(objects.namespace)),
    configMaps: staticCache(some(objects.configMap)),
    resourceQuotas: staticCache(some(objects.quota)),
    limitRanges: staticCache(some(objects.limitRange)),
    networkPolicies: staticCache(objects.networkPolicies ?? []),
    roles: staticCache(objects.roles ?? []),
    roleBindings: staticCache(objects.roleBindings ?? []),
    cronJobs: staticCache(some(objects.cronJob)),
    failedCreateEvents: staticCache(objects.events ?? []),
    tenants: staticCache(some(objects.tenant)),
  };
}
