/**
 * The controller as it is deployed: the platform chart's controller objects (its namespace, ServiceAccount, RBAC,
 * NetworkPolicy and a Deployment of two replicas electing a leader) running on the real node from the image
 * `npm run image` built, placed there by the platform file's `controller.nodeSelector`/`tolerations`, and looking
 * after a tenant that really runs there too. From inside the cluster, with only its ServiceAccount's rights, it
 * reports drift of the tenant's ResourceQuota, and the health of the tenant's backups as the real backup Jobs of
 * the CronJob leave it: healthy once one succeeded, stale once they have failed (Redis gone) for longer than twice
 * the schedule's interval. It is read the way monitoring reads it: `/status` from a pod in the monitoring
 * namespace, the only one its NetworkPolicy lets in.
 *
 * Two things differ from production, both because this cluster is shared by the suite's other files: the
 * controller looks only at this file's tenant (`--tenant-selector`), and its ClusterRole and binding carry this
 * run's name (the gitops test's Argo CD owns `neurallog-controller` and would revert a binding to another
 * namespace). The tenant ClusterRole `neurallog-controller-tenant` keeps its name: the tenant's RoleBinding and
 * its ConfigMap name it, and its rules are the same for every report-only platform.
 */
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  type V1CronJob,
  type V1ResourceQuota,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { platformObjects } from "../../../charts-src/charts/platform-chart.ts";
import { CONTROLLER_METRICS_PORT, CONTROLLER_NAME } from "../../../charts-src/constructs/controller.ts";
import { TENANT_LABEL } from "../../../charts-src/constructs/metadata.ts";
import { resolvePlatform } from "../../../charts-src/model/resolve.ts";
import type { ControllerStatus } from "../../../controller/main.ts";
import type { TenantStatus } from "../../../controller/reconcile/reconcile-tenant.ts";
import { applyManifests } from "../apply-manifests.ts";
import { syncOrder } from "../apply-order.ts";
import { clusterKubeConfig, uniqueName } from "../cluster-access.ts";
import { expectedReach, probePod, reachedTargets, type ProbeTarget } from "./connection-probe.ts";
import { REAL_NODE_NAME } from "./real-node.ts";
import {
  applyRendered,
  clientPodSpec,
  createNamespace,
  localPlatform,
  namespaceOf,
  ON_REAL_NODE,
  type RenderedObject,
  renderTenantOnNode,
  runPod,
  runTenant,
  waitUntilRunning,
} from "./rendered-tenant.ts";

const kc = clusterKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const batch = kc.makeApiClient(BatchV1Api);
const run = uniqueName("ctl");
const controllerNamespace = `${run}-system`;
const monitoringNamespace = `${run}-monitoring`;
const platform = localPlatform((spec) => {
  spec.controller = { namespace: controllerNamespace, replicas: 2, mode: "report-only", ...ON_REAL_NODE };
  spec.monitoring = { namespace: monitoringNamespace };
});
const tenantObjects = renderTenantOnNode(run, platform);
// Every minute: the shortest interval a CronJob has, so "stale" (2× the interval) comes within the test. Merged
// only once the tenant runs, as a change to its file would be: a backup started while Redis is still starting
// fails, and its failed pod would keep the tenant from counting as running.
const everyMinute = renderTenantOnNode(run, platform, { backup: { schedule: "* * * * *" } });
const namespace = namespaceOf(tenantObjects);
const cronJobName = `${run}-backup`;

/** The platform chart's controller objects, scoped to this run (see the file comment). */
function controllerObjects(): RenderedObject[] {
  const objects = platformObjects(resolvePlatform(platform)) as RenderedObject[];
  const clusterScopedName = `${CONTROLLER_NAME}-${run}`;
  return objects
    .filter((o) => o.metadata?.labels?.["app.kubernetes.io/instance"] === CONTROLLER_NAME)
    .map((o) => {
      if (o.kind === "ClusterRole" && o.metadata?.name === CONTROLLER_NAME)
        return { ...o, metadata: { ...o.metadata, name: clusterScopedName } };
      if (o.kind === "ClusterRoleBinding") {
        const roleRef = o.roleRef as Record<string, unknown>;
        return {
          ...o,
          metadata: { ...o.metadata, name: clusterScopedName },
          roleRef: { ...roleRef, name: clusterScopedName },
        };
      }
      if (o.kind === "Deployment") {
        const copy = structuredClone(o) as RenderedObject & {
          spec: { template: { spec: { containers: { args?: string[] }[] } } };
        };
        copy.spec.template.spec.containers[0]!.args = ["--tenant-selector", `${TENANT_LABEL}=${run}`];
        return copy;
      }
      return o;
    });
}

const controllerPods = async () =>
  (
    await core.listNamespacedPod({
      namespace: controllerNamespace,
      labelSelector: "app.kubernetes.io/component=controller",
    })
  ).items;

/**
 * A scraper in the monitoring namespace, as Prometheus would be: it asks every controller replica for `/status`
 * every two seconds and prints one line of what they answered. The test reads its latest line.
 */
const SCRAPER = "status-scraper";
const SCRAPE = `
const urls = JSON.parse(process.env.URLS);
const scrape = async () => {
  const answers = await Promise.all(urls.map((u) =>
    fetch(u, { signal: AbortSignal.timeout(1500) }).then((r) => r.json(), (e) => ({ error: String(e.cause ?? e) }))));
  console.log(JSON.stringify(answers));
};
setInterval(scrape, 2000); scrape();`;

async function startScraper(): Promise<void> {
  const urls = (await controllerPods()).map(
    (p) => `http://${p.status!.podIP!}:${CONTROLLER_METRICS_PORT}/status`,
  );
  const spec = clientPodSpec(["node", "-e", SCRAPE], { restartPolicy: "Always" });
  spec.containers[0]!.env = [{ name: "URLS", value: JSON.stringify(urls) }];
  await core.createNamespacedPod({
    namespace: monitoringNamespace,
    body: { metadata: { name: SCRAPER }, spec },
  });
}

/** The latest answers of both replicas; throws (for `vi.waitFor`) until the scraper printed one. */
async function latestStatuses(): Promise<(ControllerStatus | { error: string })[]> {
  const log = await core.readNamespacedPodLog({
    name: SCRAPER,
    namespace: monitoringNamespace,
    tailLines: 1,
  });
  if (!log.trim()) throw new Error("the scraper has not printed yet");
  return JSON.parse(log.trim()) as (ControllerStatus | { error: string })[];
}

/** What the leading replica says about this run's tenant; throws until a replica leads and has reconciled it. */
async function leaderView(): Promise<TenantStatus> {
  const statuses = await latestStatuses();
  const leader = statuses.find((s): s is ControllerStatus => "leader" in s && s.leader);
  if (!leader) throw new Error(`no replica leads: ${JSON.stringify(statuses)}`);
  const status = leader.tenants.find((t) => t.namespace === namespace);
  if (!status) throw new Error(`the leader has not reconciled ${namespace} yet`);
  return status;
}

const cronJob = (): Promise<V1CronJob> => batch.readNamespacedCronJob({ name: cronJobName, namespace });

beforeAll(async () => {
  await createNamespace(kc, monitoringNamespace);
  await applyManifests(kc, syncOrder(controllerObjects()), { fieldManager: "argocd-controller" });
  // The controller makes the tenant's Redis password Secret: until it has, the tenant's pods wait for it.
  await runTenant(kc, tenantObjects, { passwordBy: "controller" });
  await waitUntilRunning(kc, controllerNamespace, 180_000);
  await applyRendered(kc, everyMinute);
  await startScraper();
}, 420_000);

afterAll(async () => {
  for (const name of [namespace, controllerNamespace, monitoringNamespace]) {
    await core.deleteNamespace({ name }).catch(() => undefined);
  }
  const rbac = `${CONTROLLER_NAME}-${run}`;
  const api = kc.makeApiClient(RbacAuthorizationV1Api);
  await api.deleteClusterRoleBinding({ name: rbac }).catch(() => undefined);
  await api.deleteClusterRole({ name: rbac }).catch(() => undefined);
});

describe("the controller in-cluster, on the real node", () => {
  it("runs as rendered: two replicas on the real node, exactly one leading, ingress only from monitoring", async () => {
    const pods = await controllerPods();
    expect(pods.map((p) => [p.spec?.nodeName, p.status?.phase])).toEqual([
      [REAL_NODE_NAME, "Running"],
      [REAL_NODE_NAME, "Running"],
    ]);
    const leaders = await vi.waitFor(
      async () => {
        const statuses = await latestStatuses();
        const answered = statuses.filter((s): s is ControllerStatus => "leader" in s);
        if (answered.length !== 2) throw new Error(`not both replicas answered: ${JSON.stringify(statuses)}`);
        const leading = answered.filter((s) => s.leader);
        if (leading.length === 0) throw new Error("no replica leads yet");
        return { leading: leading.map((s) => s.identity), holders: answered.map((s) => s.leaseHolder) };
      },
      { timeout: 60_000, interval: 1_000 },
    );
    expect(leaders.leading).toHaveLength(1);
    expect(leaders.holders).toEqual([leaders.leading[0], leaders.leading[0]]);

    // The rendered policy: a tenant's pod cannot open the controller's port (its own server, beside, it can).
    const targets: ProbeTarget[] = [
      { name: "own server", host: `${run}-server`, port: 8080, expect: "open" },
      ...pods.map((p, i) => ({
        name: `controller ${i}`,
        host: p.status!.podIP!,
        port: CONTROLLER_METRICS_PORT,
        expect: "closed" as const,
      })),
    ];
    const probe = await runPod(kc, namespace, probePod(uniqueName("probe"), targets));
    expect(reachedTargets(JSON.parse(probe.log.trim()) as Record<string, string>)).toEqual(
      expectedReach(targets),
    );
  });

  it("made the tenant's Redis password Secret (create-only), and Redis refuses a client without the password", async () => {
    const secretName = `${run}-redis-auth`;
    const secret = await core.readNamespacedSecret({ name: secretName, namespace });
    expect(secret.metadata?.labels).toMatchObject({
      [TENANT_LABEL]: run,
      "app.kubernetes.io/managed-by": "neurallog-controller",
    });
    expect(secret.metadata?.managedFields?.map((f) => f.manager)).toEqual(["neurallog-controller"]);
    expect(Buffer.from(secret.data!.password!, "base64").toString()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const created = await core.listNamespacedEvent({
      namespace,
      fieldSelector: "reason=RedisPasswordCreated",
    });
    expect(created.items.map((e) => e.message)).toEqual([
      `Secret ${secretName} created with a random Redis password (key password)`,
    ]);

    // A pod of the tenant's own namespace (the policies let it reach Redis) that sends no password.
    // Tried again until it gets an answer: a new pod's address reaches the policies a moment after it starts.
    const script = [
      `const net = require("node:net");`,
      `const deadline = Date.now() + 60000;`,
      `const attempt = (last) => {`,
      `  if (Date.now() > deadline) return console.log(JSON.stringify({ error: last }));`,
      `  const s = net.connect(6379, "${run}-redis", () => s.write("PING\\r\\n"));`,
      `  s.setTimeout(2000, () => s.destroy(new Error("timeout")));`,
      `  s.once("data", (d) => { console.log(JSON.stringify({ reply: d.toString() })); s.destroy(); });`,
      `  s.once("error", (e) => setTimeout(() => attempt(String(e)), 500));`,
      `};`,
      `attempt("none");`,
    ].join("\n");
    const pod = await runPod(kc, namespace, {
      metadata: { name: uniqueName("nopass") },
      spec: clientPodSpec(["node", "-e", script]),
    });
    expect(JSON.parse(pod.log.trim())).toEqual({ reply: "-NOAUTH Authentication required.\r\n" });
  });

  it("reports a quota changed by hand as drift, and leaves it (report-only)", async () => {
    const quotaName = tenantObjects.find((o) => o.kind === "ResourceQuota")!.metadata!.name!;
    const quota: V1ResourceQuota = await core.readNamespacedResourceQuota({ name: quotaName, namespace });
    quota.spec!.hard = { ...quota.spec!.hard, "limits.memory": "3Gi" };
    await core.replaceNamespacedResourceQuota({ name: quotaName, namespace, body: quota });

    const drift = await vi.waitFor(
      async () => {
        const found = (await leaderView()).drift.find((d) => d.name === quotaName);
        if (!found) throw new Error("no drift reported yet");
        return found;
      },
      { timeout: 90_000, interval: 1_000 },
    );
    expect(drift).toMatchObject({ kind: "ResourceQuota", state: "different" });
    const events = await vi.waitFor(
      async () => {
        const list = await core.listNamespacedEvent({ namespace, fieldSelector: "reason=DriftDetected" });
        if (list.items.length === 0) throw new Error("no DriftDetected event yet");
        return list.items;
      },
      { timeout: 30_000, interval: 1_000 },
    );
    expect(events.map((e) => e.message).join("\n")).toContain(quotaName);
    const live = await core.readNamespacedResourceQuota({ name: quotaName, namespace });
    expect(live.spec?.hard?.["limits.memory"]).toBe("3Gi");
  });

  it("reports backups healthy from the CronJob's real Jobs, then stale once they fail", async () => {
    // The CronJob controller starts a Job each minute; the first that succeeds sets lastSuccessfulTime, and the
    // leader's view must carry that very time (a later Job may have moved it on meanwhile: compare both live).
    const healthy = await vi.waitFor(
      async () => {
        const time = (await cronJob()).status?.lastSuccessfulTime;
        if (!time) throw new Error("no backup Job has succeeded yet");
        const backup = (await leaderView()).backup;
        if (backup?.lastSuccess !== new Date(time).toISOString()) {
          throw new Error(
            `CronJob's last success ${String(time)}, controller's view ${JSON.stringify(backup)}`,
          );
        }
        return backup;
      },
      { timeout: 240_000, interval: 2_000 },
    );
    const lastSuccess = healthy.lastSuccess!;
    expect(healthy).toMatchObject({ state: "healthy", cronJob: cronJobName, intervalSeconds: 60 });

    // Redis goes away: every backup Job from now on fails, and none succeeds again.
    const redis = tenantObjects.find((o) => o.kind === "StatefulSet")!.metadata!.name!;
    const apps = kc.makeApiClient(AppsV1Api);
    const statefulSet = await apps.readNamespacedStatefulSet({ name: redis, namespace });
    statefulSet.spec!.replicas = 0;
    await apps.replaceNamespacedStatefulSet({ name: redis, namespace, body: statefulSet });

    const stale = await vi.waitFor(
      async () => {
        const backup = (await leaderView()).backup;
        if (backup?.state !== "stale") throw new Error(`backup: ${JSON.stringify(backup)}`);
        return backup;
      },
      { timeout: 300_000, interval: 2_000 },
    );
    const jobs = (await batch.listNamespacedJob({ namespace })).items;
    const failedSince = jobs.filter(
      (j) =>
        j.status?.conditions?.some((c) => c.type === "Failed" && c.status === "True") &&
        new Date(j.metadata!.creationTimestamp!).toISOString() > lastSuccess,
    );
    const lastSuccessNow = (await cronJob()).status?.lastSuccessfulTime;
    expect({
      lastSuccessUnchanged: lastSuccessNow ? new Date(lastSuccessNow).toISOString() : undefined,
      failedJobsSince: failedSince.length > 0,
    }).toEqual({ lastSuccessUnchanged: stale.lastSuccess, failedJobsSince: true });
    const events = await core.listNamespacedEvent({ namespace, fieldSelector: "reason=BackupStale" });
    expect(events.items.map((e) => e.type)).toEqual(["Warning"]);
  }, 600_000);
});
