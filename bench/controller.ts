/**
 * `npm run bench:controller [TENANTS]`: CPU cost of the controller's reconcile, from a cache of TENANTS
 * (default 1000) synth-rendered tenants, with writes recorded in memory (no API server: this measures the
 * controller's own work per tenant). First pass: every tenant has a drifted quota and high usage (Events and
 * Tenant statuses written); second pass, a minute later: the same state again (Events deduplicated, statuses
 * equal to the stored ones: nothing written); third pass: a new leader (no memory; its cache holds the stored
 * statuses, as its informer would). Status writes land in the Tenant cache, as the informer's watch would.
 */
import type { CoreV1Event, KubernetesObject, ObjectCache, V1Role } from "@kubernetes/client-node";
import type { TenantObject } from "../contracts/tenant-status.ts";
import { staticCache, type TenantCache } from "../controller/informers/tenant-cache.ts";
import { AlreadyExistsError, type EventPatch, type KubeActions } from "../controller/kube/kube-actions.ts";
import { EventRecorder } from "../controller/reconcile/event-recorder.ts";
import { reconcileTenant } from "../controller/reconcile/reconcile-tenant.ts";
import { RedisPasswords } from "../controller/reconcile/redis-password.ts";
import { clusterObjects, tenantObject } from "../test/support/test-tenant.ts";

const tenants = Number(process.argv[2] ?? 1000);
if (!Number.isInteger(tenants) || tenants < 1 || tenants > 20_000) {
  console.error("usage: npm run bench:controller [TENANTS 1..20000]");
  process.exit(1);
}

const base = clusterObjects();
const moved = <T extends KubernetesObject>(object: T, namespace: string): T => {
  const copy = structuredClone(object);
  copy.metadata!.namespace = namespace;
  return copy;
};
const all = Array.from({ length: tenants }, (_, i) => {
  const ns = `nl-bench-${i}`;
  const quota = moved(base.quota, ns);
  quota.spec!.hard!.pods = "30"; // drifted
  quota.status!.used!.pods = "19"; // 95%
  return {
    namespace: { ...structuredClone(base.namespace), metadata: { ...base.namespace.metadata, name: ns } },
    configMap: moved(base.configMap, ns),
    quota,
    limitRange: moved(base.limitRange, ns),
    networkPolicies: base.networkPolicies.map((p) => moved(p, ns)),
    roleBindings: base.roleBindings.map((b) => moved(b, ns)),
    cronJob: moved(base.cronJob!, ns),
    tenant: moved(tenantObject() as KubernetesObject, ns) as TenantObject,
  };
});
/** The Tenant objects as the informer holds them: a status write replaces the stored object. */
const storedTenants = new Map(
  all.map((t) => [`${t.tenant.metadata!.namespace}/${t.tenant.metadata!.name}`, t.tenant]),
);
const tenantCache: ObjectCache<TenantObject> = {
  get: (name, namespace) => storedTenants.get(`${namespace}/${name}`),
  list: () => [...storedTenants.values()],
};
const cache: TenantCache = {
  namespaces: staticCache(all.map((t) => t.namespace)),
  configMaps: staticCache(all.map((t) => t.configMap)),
  resourceQuotas: staticCache(all.map((t) => t.quota)),
  limitRanges: staticCache(all.map((t) => t.limitRange)),
  networkPolicies: staticCache(all.flatMap((t) => t.networkPolicies)),
  roles: staticCache<V1Role>([]),
  roleBindings: staticCache(all.flatMap((t) => t.roleBindings)),
  cronJobs: staticCache(all.map((t) => t.cronJob)),
  failedCreateEvents: staticCache<CoreV1Event>([]),
  tenants: tenantCache,
};

let writes = 0;
let secrets = 0;
let statusWrites = 0;
const existing = new Set<string>();
const actions: KubeActions = {
  createEvent: async (_event: CoreV1Event) => void writes++,
  patchEvent: async (_ns: string, _name: string, _patch: EventPatch) => void writes++,
  // As the API server answers: the first create of a name succeeds, later ones are 409.
  createSecret: async (secret) => {
    writes++;
    const key = `${secret.metadata!.namespace}/${secret.metadata!.name}`;
    if (existing.has(key)) throw new AlreadyExistsError(key);
    existing.add(key);
    secrets++;
  },
  applyObject: async () => void writes++,
  removeFields: async () => void writes++,
  applyTenantStatus: async (tenant, status) => {
    writes++;
    statusWrites++;
    const key = `${tenant.metadata!.namespace}/${tenant.metadata!.name}`;
    storedTenants.set(key, {
      ...tenant,
      status: JSON.parse(JSON.stringify(status)) as TenantObject["status"],
    });
  },
};
const leader = () => ({
  cache,
  actions,
  events: new EventRecorder(actions, { instance: "bench" }),
  mode: "report-only" as const,
  passwords: new RedisPasswords(actions),
});
const first = leader();
const passes = [
  { pass: "first (Events and statuses written)", deps: first, at: "2026-11-27T12:00:00Z" },
  { pass: "second, 1 min later (steady state)", deps: first, at: "2026-11-27T12:01:00Z" },
  { pass: "third, a new leader (stored statuses)", deps: leader(), at: "2026-11-27T12:02:00Z" },
];
for (const { pass, deps, at } of passes) {
  writes = 0;
  secrets = 0;
  statusWrites = 0;
  const now = new Date(at);
  const started = performance.now();
  for (const t of all) await reconcileTenant(t.namespace.metadata!.name!, { ...deps, now: () => now });
  const ms = performance.now() - started;
  console.log(
    `${pass}: ${tenants} tenants in ${ms.toFixed(0)} ms, ${((ms * 1000) / tenants).toFixed(0)} µs/tenant, ${writes} writes (${statusWrites} Tenant status writes, ${secrets} Redis password Secrets created)`,
  );
}
const rss = process.memoryUsage().rss / 2 ** 20;
console.log(
  `controller reconcile: ${tenants} tenants, rss ${rss.toFixed(0)} MiB (cache of rendered objects included)`,
);
