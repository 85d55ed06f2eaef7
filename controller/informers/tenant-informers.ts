/**
 * The informers the controller runs, and how a change becomes a tenant key (the tenant namespace name) on the
 * work queue. Namespaces, tenant ConfigMaps and backup CronJobs are selected by the tenant label on the server
 * side; ResourceQuotas, LimitRanges, NetworkPolicies, Roles and RoleBindings are watched in every namespace
 * (there are few, and an object without the tenant label, or that lost it, must still be seen), and their changes count only in tenant namespaces.
 * Events are only those with reason FailedCreate (field selector): the trace of pods rejected at admission.
 */
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { TENANT_CONFIGMAP_NAME, TENANT_LABEL } from "../../contracts/tenant-configmap.ts";
import { RawApi } from "../kube/raw-api.ts";
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

export class TenantInformers {
  readonly cache: TenantCache;
  readonly #informers: RestartingInformer<KubernetesObject>[];

  constructor(kubeConfig: KubeConfig, options: TenantInformerOptions) {
    const raw = new RawApi(kubeConfig);
    const isTenantNamespace = (name: string | undefined) =>
      name !== undefined && namespaces.get(name)?.metadata?.labels?.[TENANT_LABEL] !== undefined;
    const informer = <T extends KubernetesObject>(
      resource: string,
      path: string,
      selectors: { labelSelector?: string; fieldSelector?: string },
      keyOf: (object: T) => string | undefined,
    ) =>
      new RestartingInformer<T>(kubeConfig, {
        resource,
        path,
        list: raw.lister<T>(path, selectors),
        ...selectors,
        onChange: (object) => {
          const key = keyOf(object);
          if (key !== undefined) options.enqueue(key);
        },
        onError: options.onError,
      });
    const inTenantNamespace = (object: KubernetesObject) =>
      isTenantNamespace(object.metadata?.namespace) ? object.metadata?.namespace : undefined;

    const namespaceSelector = [
      TENANT_LABEL,
      ...(options.tenantSelector ? [options.tenantSelector] : []),
    ].join(",");
    const namespaces = informer(
      "namespaces",
      "/api/v1/namespaces",
      { labelSelector: namespaceSelector },
      (ns) => ns.metadata?.name,
    );
    const configMaps = informer(
      "configmaps",
      "/api/v1/configmaps",
      { fieldSelector: `metadata.name=${TENANT_CONFIGMAP_NAME}` },
      inTenantNamespace,
    );
    const resourceQuotas = informer("resourcequotas", "/api/v1/resourcequotas", {}, inTenantNamespace);
    const limitRanges = informer("limitranges", "/api/v1/limitranges", {}, inTenantNamespace);
    const networkPolicies = informer(
      "networkpolicies",
      "/apis/networking.k8s.io/v1/networkpolicies",
      {},
      inTenantNamespace,
    );
    const roles = informer("roles", "/apis/rbac.authorization.k8s.io/v1/roles", {}, inTenantNamespace);
    const roleBindings = informer(
      "rolebindings",
      "/apis/rbac.authorization.k8s.io/v1/rolebindings",
      {},
      inTenantNamespace,
    );
    const cronJobs = informer(
      "cronjobs",
      "/apis/batch/v1/cronjobs",
      { labelSelector: TENANT_LABEL },
      inTenantNamespace,
    );
    const events = informer(
      "events",
      "/api/v1/events",
      { fieldSelector: "reason=FailedCreate" },
      inTenantNamespace,
    );
    this.#informers = [
      namespaces,
      configMaps,
      resourceQuotas,
      limitRanges,
      networkPolicies,
      roles,
      roleBindings,
      cronJobs,
      events,
    ];
    this.cache = {
      namespaces,
      configMaps,
      resourceQuotas,
      limitRanges,
      networkPolicies,
      roles,
      roleBindings,
      cronJobs,
      failedCreateEvents: events,
    } as unknown as TenantCache;
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
