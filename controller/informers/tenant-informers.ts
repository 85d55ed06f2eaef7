/**
 * The informers the controller runs, and how a change becomes a tenant key (the tenant namespace name) on the
 * work queue. Namespaces, tenant ConfigMaps and backup CronJobs are selected by the tenant label on the server
 * side; ResourceQuotas, LimitRanges, NetworkPolicies, Roles and RoleBindings are watched in every namespace
 * (there are few, and an object without the tenant label, or that lost it, must still be seen), and their changes count only in tenant namespaces.
 * Events are only those with reason FailedCreate (field selector): the trace of pods rejected at admission.
 * Tenant objects (tenants.neurallog.io) are watched everywhere and count in tenant namespaces, like the quotas.
 */
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { TENANT_CONFIGMAP_NAME, TENANT_LABEL } from "../../contracts/tenant-configmap.ts";
import { TENANTS_PATH } from "../../contracts/tenant-status.ts";
import { RawApi, type ListSelectors } from "../kube/raw-api.ts";
import { RestartingInformer } from "./restarting-informer.ts";
import type { TenantCache } from "./tenant-cache.ts";

export interface TenantInformerOptions {
  /** A tenant namespace needs reconciling. */
  readonly enqueue: (namespace: string) => void;
  readonly onError: (resource: string, error: unknown, restartInMs: number) => void;
  /**
   * An extra label selector for tenant namespaces (`env=prod`): this controller then looks after those tenants
   * only (a canary controller, or tests sharing a cluster).
   */
  readonly tenantSelector?: string;
}

/** One watched resource: where it is listed and watched, and what the API server filters out. */
export interface WatchedResource extends ListSelectors {
  /** Name for logs, metrics and `syncState`, e.g. "resourcequotas". */
  readonly resource: string;
  readonly path: string;
  /** Each object is a tenant namespace, and a change concerns the tenant it names (the others: their namespace's). */
  readonly isTenantItself?: true;
}

/**
 * What the controller watches, one entry per `TenantCache` field, in the order they start: namespaces first,
 * because the others' changes count only in the tenant namespaces it knows.
 */
export function watchedResources(
  tenantSelector: string | undefined,
): Record<keyof TenantCache, WatchedResource> {
  return {
    namespaces: {
      resource: "namespaces",
      path: "/api/v1/namespaces",
      labelSelector: [TENANT_LABEL, ...(tenantSelector ? [tenantSelector] : [])].join(","),
      isTenantItself: true,
    },
    configMaps: {
      resource: "configmaps",
      path: "/api/v1/configmaps",
      fieldSelector: `metadata.name=${TENANT_CONFIGMAP_NAME}`,
    },
    resourceQuotas: { resource: "resourcequotas", path: "/api/v1/resourcequotas" },
    limitRanges: { resource: "limitranges", path: "/api/v1/limitranges" },
    networkPolicies: { resource: "networkpolicies", path: "/apis/networking.k8s.io/v1/networkpolicies" },
    roles: { resource: "roles", path: "/apis/rbac.authorization.k8s.io/v1/roles" },
    roleBindings: { resource: "rolebindings", path: "/apis/rbac.authorization.k8s.io/v1/rolebindings" },
    cronJobs: { resource: "cronjobs", path: "/apis/batch/v1/cronjobs", labelSelector: TENANT_LABEL },
    failedCreateEvents: { resource: "events", path: "/api/v1/events", fieldSelector: "reason=FailedCreate" },
    // Its status is the controller's: the stored status is what a change is compared with (also after failover).
    tenants: { resource: "tenants", path: TENANTS_PATH },
  };
}

export class TenantInformers {
  readonly cache: TenantCache;
  readonly #informers: RestartingInformer<KubernetesObject>[];

  constructor(kubeConfig: KubeConfig, options: TenantInformerOptions) {
    const raw = new RawApi(kubeConfig);
    const informers: Partial<Record<keyof TenantCache, RestartingInformer<KubernetesObject>>> = {};
    const isTenantNamespace = (name: string | undefined) =>
      name !== undefined && informers.namespaces?.get(name)?.metadata?.labels?.[TENANT_LABEL] !== undefined;
    const tenantOf = (watched: WatchedResource, object: KubernetesObject): string | undefined => {
      if (watched.isTenantItself) return object.metadata?.name;
      return isTenantNamespace(object.metadata?.namespace) ? object.metadata?.namespace : undefined;
    };
    for (const [field, watched] of Object.entries(watchedResources(options.tenantSelector))) {
      const { resource, path, labelSelector, fieldSelector } = watched;
      informers[field as keyof TenantCache] = new RestartingInformer(kubeConfig, {
        resource,
        path,
        list: raw.lister(path, { labelSelector, fieldSelector }),
        labelSelector,
        fieldSelector,
        onChange: (object) => {
          const key = tenantOf(watched, object);
          if (key !== undefined) options.enqueue(key);
        },
        onError: options.onError,
      });
    }
    this.#informers = Object.values(informers);
    // Each informer is its resource's ObjectCache; the table's fields are TenantCache's, so all of them are here.
    this.cache = informers as unknown as TenantCache;
  }

  /** Starts every informer; resolves when each made its first attempt (see `synced` for whether it listed). */
  async start(): Promise<void> {
    // Namespaces first: the other informers' changes only count once tenant namespaces are known.
    await this.#informers[0]!.start();
    await Promise.all(this.#informers.slice(1).map((i) => i.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.stop()));
  }

  get synced(): boolean {
    return this.#informers.every((i) => i.synced);
  }

  syncState(): Record<string, { synced: boolean; restarts: number }> {
    return Object.fromEntries(
      this.#informers.map((i) => [i.resource, { synced: i.synced, restarts: i.restarts }]),
    );
  }

  /** Every tenant namespace in the cache. */
  tenantNamespaces(): string[] {
    return this.cache.namespaces
      .list()
      .filter((ns) => ns.metadata?.labels?.[TENANT_LABEL] !== undefined)
      .map((ns) => ns.metadata!.name!);
  }
}
