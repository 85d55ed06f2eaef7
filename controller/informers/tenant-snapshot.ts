/**
 * The controller's view of the cluster as one snapshot instead of informers: each watched resource listed once,
 * with the informers' own paths and selectors (`watchedResources`), into static caches. `neurallog status` judges
 * tenants from it with the reconcile's own `assessTenant`, so the terminal and the controller say the same thing.
 */
import { ApiException, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { RawApi } from "../kube/raw-api.ts";
import { staticCache, type TenantCache } from "./tenant-cache.ts";
import { watchedResources } from "./tenant-informers.ts";

export async function readTenantSnapshot(
  kubeConfig: KubeConfig,
  tenantSelector?: string,
): Promise<TenantCache> {
  const raw = new RawApi(kubeConfig);
  const entries = await Promise.all(
    Object.entries(watchedResources(tenantSelector)).map(
      async ([field, { path, labelSelector, fieldSelector }]) => {
        const list = await raw
          .lister<KubernetesObject>(path, { labelSelector, fieldSelector })()
          .catch((error: unknown) => {
            // A platform from before the Tenant CRD: every other finding still stands, there is no stored status.
            if (field === "tenants" && error instanceof ApiException && error.code === 404)
              return { items: [] };
            throw error;
          });
        return [field, staticCache(list.items)] as const;
      },
    ),
  );
  return Object.fromEntries(entries) as unknown as TenantCache;
}
