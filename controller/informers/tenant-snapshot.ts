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
        const list = await withRetryAfter(
          raw.lister<KubernetesObject>(path, { labelSelector, fieldSelector }),
        ).catch((error: unknown) => {
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

const RETRIES_AFTER_429 = 5;

/**
 * A list answered 429 is retried after the server's `retryAfterSeconds` (at most 5 s each), as client-go does:
 * seen right after the Tenant CRD was established, "storage is (re)initializing", retry after 1 s.
 */
async function withRetryAfter<T>(list: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await list();
    } catch (error) {
      if (!(error instanceof ApiException) || error.code !== 429 || attempt > RETRIES_AFTER_429) throw error;
      let seconds = 1;
      try {
        seconds = Number(
          (JSON.parse(String(error.body)) as { details?: { retryAfterSeconds?: number } }).details
            ?.retryAfterSeconds ?? 1,
        );
      } catch {
        // not a Status body: one second
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(Math.max(seconds, 0.1), 5) * 1000));
    }
  }
}
