/**
 * The controller against the real test cluster (test/cluster): tenants rendered by synth and applied the way
 * Argo CD would, out-of-band edits made the way a human with kubectl would, and the controller's Events, metrics
 * and corrections observed through the API server and its HTTP port.
 *
 * Every controller here looks only at this file's tenants (`tenantSelector`), so tests sharing the cluster are
 * left alone. Latencies are printed, not asserted, except the 5 s bound the issue sets for drift reporting.
 */
import { spawn } from "node:child_process";
import { createServer, connect, type Server, type Socket } from "node:net";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AppsV1Api,
  AuthorizationV1Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  RbacAuthorizationV1Api,
  type KubernetesObject,
  type V1ConfigMap,
} from "@kubernetes/client-node";
import { pino } from "pino";
import { parse } from "yaml";
import { App, Chart } from "cdk8s";
import { tenantObjects } from "../charts-src/charts/tenant-chart.ts";
import { Controller } from "../charts-src/constructs/controller.ts";
import { resolvePlatform, resolveTenant } from "../charts-src/model/resolve.ts";
import type { PlatformFile, TenantFile } from "../charts-src/model/tenant-schema.ts";
import { applyManifests } from "../test/cluster/apply-manifests.ts";
import { ensureClusterBinaries } from "../test/cluster/binaries.ts";
import { startControlPlane, type ControlPlane } from "../test/cluster/control-plane.ts";
import { inject } from "vitest";
import { clusterKubeConfig, uniqueName } from "../test/cluster/cluster-access.ts";
import { startController, type ControllerOptions, type RunningController } from "./main.ts";

const RUN_LABEL = "neurallog.io/controller-test-run";
const CASE_LABEL = "neurallog.io/controller-test-case";
const run = uniqueName("run");
// NL_CTL_TEST_LOG=warn shows why a controller under test retried (reconcile errors, informer restarts).
const logger = pino({ level: process.env.NL_CTL_TEST_LOG ?? "silent" });
const platformFile = parse(
  readFileSync(new URL("../tenants/_platform.yaml", import.meta.url), "utf8"),
) as PlatformFile;

let kc: KubeConfig;
let core: CoreV1Api;
const controllers: RunningController[] = [];
const namespaces: string[] = [];

beforeAll(() => {
  kc = clusterKubeConfig();
  core = kc.makeApiClient(CoreV1Api);
});

afterAll(async () => {
  await Promise.all(controllers.map((c) => c.stop()));
  await Promise.all(namespaces.map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
});

/** Renders a small tenant with synth and applies what the controller judges, as Argo CD would. */
async function createTenant(
  quotaHard: Record<string, string> = {},
  /** A label value for a controller that must see this tenant only (`${CASE_LABEL}=value`). */
  testCase?: string,
  /** A cluster of its own (the API server restart test); default: the shared one. */
  cluster: KubeConfig = kc,
  /**
   * The controller's RBAC of `applyControllerRbac` (its namespace and its tenant role's unique name): the tenant's
   * RoleBinding, and the desired state naming it, bind that controller instead of the platform's.
   */
  access?: { readonly namespace: string; readonly tenantRole: string },
): Promise<{ tenant: string; namespace: string }> {
  const tenant = uniqueName("ctl");
  const file: TenantFile = {
    apiVersion: "neurallog.io/v1alpha1",
    kind: "Tenant",
    metadata: { name: tenant },
    spec: {
      plan: "small",
      owners: [{ kind: "Group", name: "controller-tests" }],
      quota: { hard: quotaHard },
    },
  } as TenantFile;
  const objects = tenantObjects(
    resolveTenant(file, platformFile),
    resolvePlatform(platformFile),
  ) as (KubernetesObject & Record<string, unknown>)[];
  const wanted = ["Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "RoleBinding", "CronJob"];
  const selected = objects.filter(
    (o) => wanted.includes(o.kind!) || (o.kind === "ConfigMap" && o.metadata!.name === "neurallog-tenant"),
  );
  if (access) bindTo(selected, access);
  const namespace = selected.find((o) => o.kind === "Namespace")!;
  namespace.metadata!.labels = {
    ...namespace.metadata!.labels,
    [RUN_LABEL]: run,
    ...(testCase ? { [CASE_LABEL]: testCase } : {}),
  };
  const order = (o: KubernetesObject) => (o.kind === "Namespace" ? 0 : 1);
  await applyManifests(
    cluster,
    [...selected].sort((a, b) => order(a) - order(b)),
    { fieldManager: "argocd-stand-in" },
  );
  if (cluster === kc) namespaces.push(namespace.metadata!.name!);
  return { tenant, namespace: namespace.metadata!.name! };
}

/** Points the tenant's RoleBinding, in the object and in the tenant ConfigMap's desired state, at `access`. */
function bindTo(
  objects: (KubernetesObject & Record<string, unknown>)[],
  access: { readonly namespace: string; readonly tenantRole: string },
): void {
  type Binding = { roleRef: { name: string }; subjects: { namespace?: string }[] };
  const rebind = (binding: Binding) => {
    binding.roleRef.name = access.tenantRole;
    for (const subject of binding.subjects) subject.namespace = access.namespace;
  };
  rebind(objects.find((o) => o.kind === "RoleBinding") as unknown as Binding);
  const configMap = objects.find((o) => o.kind === "ConfigMap") as { data: Record<string, string> };
  const state = JSON.parse(configMap.data["tenant.json"]!) as { roleBindings: Binding[] };
  state.roleBindings.forEach(rebind);
  configMap.data["tenant.json"] = JSON.stringify(state);
}

async function leaseNamespace(): Promise<string> {
  const name = uniqueName("nl-ctl-lease");
  await core.createNamespace({ body: { metadata: { name } } });
  namespaces.push(name);
  return name;
}

async function controller(
  options: Partial<ControllerOptions> & Pick<ControllerOptions, "leaseNamespace">,
): Promise<RunningController> {
  const started = await startController({
    kubeConfig: kc,
    mode: "report-only",
    port: 0,
    host: "127.0.0.1",
    tenantSelector: `${RUN_LABEL}=${run}`,
    logger,
    resyncMs: 2_000,
    ...options,
  });
  controllers.push(started);
  return started;
}

async function stopController(c: RunningController): Promise<void> {
  controllers.splice(controllers.indexOf(c), 1);
  await c.stop();
}

/** Polls `probe` every 100 ms until it returns something truthy; fails after `timeoutMs` naming `what`. */
async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | false>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
}

async function events(namespace: string, reason: string, api: CoreV1Api = core) {
  const list = await api.listNamespacedEvent({ namespace, fieldSelector: `reason=${reason}` });
  return list.items;
}

async function metrics(c: RunningController): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${c.port}/metrics`);
  return response.text();
}

function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf("}"));
    if (wanted.every((pair) => labelText.split(",").includes(pair)))
      return Number(line.slice(line.indexOf("}") + 2));
  }
  return undefined;
}

/** `kubectl edit`: someone changes the quota by hand. */
async function editQuota(namespace: string, pods: string, api: CoreV1Api = core): Promise<number> {
  await api.patchNamespacedResourceQuota({
    name: "neurallog-quota",
    namespace,
    body: [{ op: "replace", path: "/spec/hard/pods", value: pods }],
    fieldManager: "kubectl-edit",
  });
  return Date.now();
}

async function quotaPods(namespace: string): Promise<string | undefined> {
  const quota = await core.readNamespacedResourceQuota({ name: "neurallog-quota", namespace });
  return quota.spec?.hard?.pods;
}

describe("controller on the test cluster", () => {
  it("reports an out-of-band quota edit as a drift Event and metric within 5 s, and leaves it (report-only)", async () => {
    const { tenant, namespace } = await createTenant();
    const c = await controller({ leaseNamespace: await leaseNamespace() });
    await waitFor("leadership and a first reconcile", 20_000, async () =>
      c.status().tenants.some((t) => t.namespace === namespace),
    );
    expect(c.status().tenants.find((t) => t.namespace === namespace)?.drift).toEqual([]);
    const desired = await quotaPods(namespace);

    const editedAt = await editQuota(namespace, "99");
    const [event] = await waitFor("a DriftDetected Event", 5_000, async () => {
      const found = await events(namespace, "DriftDetected");
      return found.length > 0 && found;
    });
    const eventMs = Date.now() - editedAt;
    await waitFor("neurallog_drift = 1", 5_000, async () => {
      return metricValue(await metrics(c), "neurallog_drift", { tenant, kind: "ResourceQuota" }) === 1;
    });
    const metricMs = Date.now() - editedAt;
    console.log(`drift: Event after ${eventMs} ms, metric after ${metricMs} ms`);
    expect(event!.message).toBe(
      "ResourceQuota neurallog-quota differs from the desired state in spec.hard.pods",
    );
    expect(event!.type).toBe("Warning");
    expect(event!.involvedObject).toMatchObject({ kind: "Namespace", name: namespace });
    expect(c.status().tenants.find((t) => t.namespace === namespace)?.corrected).toEqual([]);
    expect(await quotaPods(namespace)).toBe("99");
    expect(desired).not.toBe("99");
    await stopController(c);
  });

  it("reverts the edit in self-heal mode with a server-side apply as neurallog-controller", async () => {
    const { tenant, namespace } = await createTenant();
    const desired = await quotaPods(namespace);
    expect(desired).toBe("20");
    const c = await controller({ leaseNamespace: await leaseNamespace(), mode: "self-heal" });
    await waitFor("a first reconcile", 20_000, async () =>
      c.status().tenants.some((t) => t.tenant === tenant),
    );

    const editedAt = await editQuota(namespace, "99");
    await waitFor("the quota restored", 5_000, async () => (await quotaPods(namespace)) === desired);
    const revertMs = Date.now() - editedAt;
    const corrected = await waitFor("a DriftCorrected Event", 5_000, async () => {
      const found = await events(namespace, "DriftCorrected");
      return found.length > 0 && found;
    });
    console.log(`self-heal: quota restored after ${revertMs} ms`);
    expect(corrected[0]!.message).toMatch(/^ResourceQuota neurallog-quota restored to the desired state/);
    const quota = await core.readNamespacedResourceQuota({ name: "neurallog-quota", namespace });
    const managers = (quota.metadata?.managedFields ?? []).map((f) => f.manager);
    expect(managers).toContain("neurallog-controller");
    // A LimitRange (whose `default` field the typed client would drop) comes back whole.
    await core.deleteNamespacedLimitRange({ name: "neurallog-limits", namespace });
    const limitRange = await waitFor("the LimitRange recreated", 5_000, async () =>
      core.readNamespacedLimitRange({ name: "neurallog-limits", namespace }).catch(() => undefined),
    );
    expect(JSON.stringify(limitRange.spec?.limits?.[0])).toContain("512Mi");
    // A NetworkPolicy opened up by hand (an allow-all ingress rule added) is put back as rendered.
    const policies = kc.makeApiClient(NetworkingV1Api);
    const rendered = await policies.readNamespacedNetworkPolicy({ name: "default-deny", namespace });
    await policies.patchNamespacedNetworkPolicy({
      name: "default-deny",
      namespace,
      body: [{ op: "add", path: "/spec/ingress", value: [{}] }],
      fieldManager: "kubectl-edit",
    });
    await waitFor("the NetworkPolicy restored", 5_000, async () => {
      const live = await policies.readNamespacedNetworkPolicy({ name: "default-deny", namespace });
      return JSON.stringify(live.spec) === JSON.stringify(rendered.spec);
    });
    await stopController(c);
  });

  it("raises the critical Event when a quota is filled to 96%", async () => {
    const { tenant, namespace } = await createTenant({ configmaps: "25" });
    const c = await controller({ leaseNamespace: await leaseNamespace() });
    await waitFor("a first reconcile", 20_000, async () =>
      c.status().tenants.some((t) => t.tenant === tenant),
    );
    // The root CA ConfigMap counts too: wait for it, so the fill below lands on exactly 24 of 25.
    await waitFor("kube-root-ca.crt", 20_000, async () =>
      core.readNamespacedConfigMap({ name: "kube-root-ca.crt", namespace }).catch(() => undefined),
    );
    const used = await waitFor("quota status", 20_000, async () => {
      const quota = await core.readNamespacedResourceQuota({ name: "neurallog-quota", namespace });
      return quota.status?.used?.configmaps;
    });
    const fill = 24 - Number(used);
    expect(fill).toBeGreaterThan(0);
    for (let i = 0; i < fill; i++) {
      const body: V1ConfigMap = { metadata: { name: `filler-${i}` }, data: { n: String(i) } };
      await core.createNamespacedConfigMap({ namespace, body });
    }
    const filledAt = Date.now();
    const [critical] = await waitFor("a QuotaUsageCritical Event", 5_000, async () => {
      const found = await events(namespace, "QuotaUsageCritical");
      return found.length > 0 && found;
    });
    console.log(`quota 96%: critical Event after ${Date.now() - filledAt} ms`);
    expect(critical!.message).toBe("configmaps at 96% of quota neurallog-quota (24/25)");
    await waitFor("neurallog_quota_used_ratio 0.96", 5_000, async () => {
      return (
        metricValue(await metrics(c), "neurallog_quota_used_ratio", { tenant, resource: "configmaps" }) ===
        0.96
      );
    });
    await stopController(c);
  });

  it("reports pods a ReplicaSet could not create because the quota was exceeded", async () => {
    const { tenant, namespace } = await createTenant({ pods: "2" });
    const c = await controller({ leaseNamespace: await leaseNamespace() });
    await waitFor("a first reconcile", 20_000, async () =>
      c.status().tenants.some((t) => t.tenant === tenant),
    );
    const labels = { app: "too-many" };
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: "too-many" },
        spec: {
          replicas: 4,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 10001,
                seccompProfile: { type: "RuntimeDefault" },
              },
              containers: [
                {
                  name: "app",
                  image: "registry.invalid/app:1",
                  securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                },
              ],
            },
          },
        },
      },
    });
    const [rejected] = await waitFor("a PodsRejectedByQuota Event", 20_000, async () => {
      const found = await events(namespace, "PodsRejectedByQuota");
      return found.length > 0 && found;
    });
    expect(rejected!.message).toMatch(
      /^ReplicaSet\/too-many-\w+ could not create pods \d+×: .*exceeded quota: neurallog-quota/,
    );
    const reported = c.status().tenants.find((t) => t.tenant === tenant)!.rejectedPods;
    expect(reported).toEqual([
      expect.objectContaining({ object: expect.stringMatching(/^ReplicaSet\/too-many-/) }),
    ]);
    expect(metricValue(await metrics(c), "neurallog_quota_rejected_pods", { tenant })).toBeGreaterThan(0);
    await stopController(c);
  });

  it("raises BackupStale when the backup CronJob has not succeeded for more than two intervals", async () => {
    const { tenant, namespace } = await createTenant();
    const c = await controller({ leaseNamespace: await leaseNamespace() });
    await waitFor("a first reconcile", 20_000, async () =>
      c.status().tenants.some((t) => t.tenant === tenant),
    );
    // A CronJob that never ran: pending (its first success is not due yet), not "healthy".
    expect(c.status().tenants.find((t) => t.tenant === tenant)?.backup?.state).toBe("pending");
    // What a CronJob whose Jobs kept failing for three days looks like.
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000).toISOString();
    await kc.makeApiClient(BatchV1Api).patchNamespacedCronJobStatus({
      name: `${tenant}-backup`,
      namespace,
      body: [{ op: "add", path: "/status/lastSuccessfulTime", value: threeDaysAgo }],
    });
    const [stale] = await waitFor("a BackupStale Event", 5_000, async () => {
      const found = await events(namespace, "BackupStale");
      return found.length > 0 && found;
    });
    expect(stale!.message).toMatch(/^last good backup 3d ago, more than 2× the schedule interval \(24h, /);
    await waitFor("neurallog_backup_stale 1", 5_000, async () => {
      return metricValue(await metrics(c), "neurallog_backup_stale", { tenant }) === 1;
    });
    expect(metricValue(await metrics(c), "neurallog_backup_age_seconds", { tenant })).toBeGreaterThan(
      259_000,
    );
    await stopController(c);
  });

  it("with two replicas only the leader acts, and the other takes over when it stops", async () => {
    const { tenant, namespace } = await createTenant();
    const lease = await leaseNamespace();
    const a = await controller({ leaseNamespace: lease, identity: "replica-a" });
    await waitFor("replica-a leading", 20_000, async () => a.isLeader());
    const b = await controller({ leaseNamespace: lease, identity: "replica-b" });
    await waitFor(
      "replica-b synced and following",
      20_000,
      async () =>
        Object.values(b.status().informers).every((i) => i.synced) && b.status().leaseHolder === "replica-a",
    );
    await waitFor("a first reconcile by the leader", 10_000, async () =>
      a.status().tenants.some((t) => t.tenant === tenant),
    );

    const policies = kc.makeApiClient(NetworkingV1Api);
    await policies.deleteNamespacedNetworkPolicy({ name: "allow-dns-egress", namespace });
    const drift = await waitFor("a DriftDetected Event", 5_000, async () => {
      const found = await events(namespace, "DriftDetected");
      return found.length > 0 && found;
    });
    expect(drift.map((e) => e.reportingInstance)).toEqual(["replica-a"]);
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    expect(b.status().tenants).toEqual([]);
    const followerMetrics = await metrics(b);
    expect(
      metricValue(followerMetrics, "neurallog_drift", { tenant, kind: "NetworkPolicy" }),
    ).toBeUndefined();
    expect(followerMetrics).toMatch(/^neurallog_leader 0$/m);

    const stoppedAt = Date.now();
    await stopController(a);
    await waitFor("replica-b leading", 10_000, async () => b.isLeader());
    console.log(
      `failover: replica-b leads ${Date.now() - stoppedAt} ms after replica-a stopped (Lease released)`,
    );
    await waitFor("replica-b reporting the tenant", 10_000, async () =>
      b
        .status()
        .tenants.find((t) => t.tenant === tenant)
        ?.drift.some((d) => d.name === "allow-dns-egress"),
    );
    expect(await metrics(b)).toMatch(/^neurallog_leader 1$/m);
    await stopController(b);
  });

  it("keeps working across an API server outage longer than the renew deadline", async () => {
    const { namespace } = await createTenant();
    const proxy = await ApiServerProxy.start(kc);
    try {
      const c = await controller({ leaseNamespace: await leaseNamespace(), kubeConfig: proxy.kubeConfig });
      await waitFor("a first reconcile", 20_000, async () =>
        c.status().tenants.some((t) => t.namespace === namespace),
      );

      // 12 s without the API server: longer than the 10 s renew deadline, so the leader must step down (it
      // cannot know whether another replica took over), then lead again once it can renew.
      const outage = proxy.outage(12_000);
      await waitFor("stepping down during the outage", 12_000, async () => !c.isLeader());
      expect(c.status().tenants).toEqual([]);
      await outage;
      const backAt = Date.now();
      await waitFor("leading again", 10_000, async () => c.isLeader());
      const leadMs = Date.now() - backAt;
      const restarts = Object.values(c.status().informers).reduce((sum, i) => sum + i.restarts, 0);
      expect(restarts).toBeGreaterThan(0);
      const editedAt = await editQuota(namespace, "98");
      await waitFor("a DriftDetected Event after the outage", 20_000, async () => {
        const found = await events(namespace, "DriftDetected");
        return found.length > 0 && found;
      });
      console.log(
        `outage 12 s: leading again ${leadMs} ms after it ended, ${restarts} informer restarts, ` +
          `drift reported ${Date.now() - editedAt} ms after the edit`,
      );
      await stopController(c);
    } finally {
      await proxy.close();
    }
  });
});

/**
 * The platform's controller RBAC as synth renders it for `mode`, applied in a namespace of this test; cluster-scoped
 * names made unique so tests sharing the cluster do not fight over them. The rules are synth's, unchanged.
 */
async function applyControllerRbac(mode: "report-only" | "self-heal"): Promise<{
  namespace: string;
  user: string;
  /** The cluster-wide ClusterRole's rules. */
  rules: { resources?: string[]; verbs: string[] }[];
  /** The unique name of the ClusterRole tenant namespaces bind it to (see `createTenant`'s `access`). */
  tenantRole: string;
  cleanup: () => Promise<void>;
}> {
  const controllerNamespace = uniqueName("nl-ctl-rbac");
  const platform = { ...resolvePlatform(platformFile) };
  const chart = new Chart(new App(), "platform");
  new Controller(chart, "controller", {
    ...platform,
    controller: { ...platform.controller, namespace: controllerNamespace, mode },
  });
  const suffix = controllerNamespace.slice("nl-ctl-rbac-".length);
  const rbac = (chart.toJson() as (KubernetesObject & Record<string, unknown>)[])
    .filter((o) =>
      ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"].includes(
        o.kind!,
      ),
    )
    .map((o) => {
      if (o.kind === "ClusterRole")
        return { ...o, metadata: { ...o.metadata, name: `${o.metadata!.name}-${suffix}` } };
      if (o.kind === "ClusterRoleBinding") {
        const roleRef = o.roleRef as { name: string };
        return {
          ...o,
          metadata: { ...o.metadata, name: `${o.metadata!.name}-${suffix}` },
          roleRef: { ...roleRef, name: `${roleRef.name}-${suffix}` },
        };
      }
      return o;
    });
  const order = ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"];
  rbac.sort((a, b) => order.indexOf(a.kind!) - order.indexOf(b.kind!));
  await applyManifests(kc, rbac, { fieldManager: "argocd-stand-in" });
  namespaces.push(controllerNamespace);
  const rbacApi = kc.makeApiClient(RbacAuthorizationV1Api);
  return {
    namespace: controllerNamespace,
    user: `system:serviceaccount:${controllerNamespace}:neurallog-controller`,
    rules: rbac.find(
      (o) => o.kind === "ClusterRole" && o.metadata!.name === `neurallog-controller-${suffix}`,
    )!.rules as { resources?: string[]; verbs: string[] }[],
    tenantRole: `neurallog-controller-tenant-${suffix}`,
    async cleanup() {
      await rbacApi
        .deleteClusterRoleBinding({ name: `neurallog-controller-${suffix}` })
        .catch(() => undefined);
      for (const name of [`neurallog-controller-${suffix}`, `neurallog-controller-tenant-${suffix}`])
        await rbacApi.deleteClusterRole({ name }).catch(() => undefined);
    },
  };
}

/** Whether the API server's authorizer lets `user` do `verb` on `resource` in `namespace` (SubjectAccessReview). */
async function allowed(user: string, verb: string, group: string, resource: string, namespace: string) {
  const review = await kc.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
    body: {
      spec: {
        user,
        groups: ["system:serviceaccounts", "system:authenticated"],
        resourceAttributes: { verb, group, resource, namespace },
      },
    },
  });
  return review.status?.allowed === true;
}

const TENANT_OBJECT_RESOURCES = [
  { group: "", resource: "resourcequotas" },
  { group: "", resource: "limitranges" },
  { group: "networking.k8s.io", resource: "networkpolicies" },
];

describe("controller across a real API server restart", () => {
  // A control plane of its own: restarting the shared API server would fail the test files running beside this
  // one. One fake node and no Argo CD CRDs are enough: nothing here schedules pods or reads Applications.
  let own: ControlPlane | undefined;
  beforeAll(async () => {
    own = await startControlPlane({
      binaries: ensureClusterBinaries(),
      runDir: mkdtempSync(join(tmpdir(), "nl-cluster-restart-")),
      nodes: 1,
      argoCdCrds: false,
      ownerPid: process.pid,
    });
  });
  // Its stop() also fails the run if a process or port outlived the cluster.
  afterAll(async () => {
    await own?.stop();
  });

  it("keeps reporting drift within 5 s of an edit made after kube-apiserver restarted", async () => {
    const ownKc = new KubeConfig();
    ownKc.loadFromFile(own!.kubeconfigPath);
    const ownCore = ownKc.makeApiClient(CoreV1Api);
    const { namespace } = await createTenant({}, undefined, ownKc);
    const lease = uniqueName("nl-ctl-lease");
    await ownCore.createNamespace({ body: { metadata: { name: lease } } });
    const c = await controller({ leaseNamespace: lease, kubeConfig: ownKc });
    await waitFor("a first reconcile", 20_000, async () =>
      c.status().tenants.some((t) => t.namespace === namespace),
    );

    const awayMs = await own!.restartApiServer();
    const backAt = Date.now();
    await waitFor("leading after the restart", 15_000, async () => c.isLeader());
    const editedAt = await editQuota(namespace, "98", ownCore);
    const [event] = await waitFor("a DriftDetected Event after the restart", 5_000, async () => {
      const found = await events(namespace, "DriftDetected", ownCore);
      return found.length > 0 && found;
    });
    console.log(
      `API server restart: away ${awayMs} ms, controller leading ${editedAt - backAt} ms after it was ready, ` +
        `drift reported ${Date.now() - editedAt} ms after the edit`,
    );
    expect(event!.message).toBe(
      "ResourceQuota neurallog-quota differs from the desired state in spec.hard.pods",
    );
    await stopController(c);
  });
});

describe("controller with the RBAC synth renders", () => {
  it("lists, watches, reports and self-heals as its ServiceAccount, with nothing forbidden", async () => {
    // Its own tenant only: what other tests left drifted is not this test's business.
    const rbac = await applyControllerRbac("self-heal");
    const { tenant, namespace } = await createTenant({}, "rbac", kc, rbac);
    try {
      const token = await core.createNamespacedServiceAccountToken({
        name: "neurallog-controller",
        namespace: rbac.namespace,
        body: { spec: { audiences: [], expirationSeconds: 600 } },
      });
      const asController = new KubeConfig();
      asController.loadFromOptions({
        clusters: [kc.getCurrentCluster()!],
        users: [{ name: "neurallog-controller", token: token.status!.token }],
        contexts: [{ name: "sa", cluster: kc.getCurrentCluster()!.name, user: "neurallog-controller" }],
        currentContext: "sa",
      });
      const c = await controller({
        leaseNamespace: rbac.namespace,
        kubeConfig: asController,
        mode: "self-heal",
        tenantSelector: `${RUN_LABEL}=${run},${CASE_LABEL}=rbac`,
      });
      await waitFor("a first reconcile as the ServiceAccount", 20_000, async () =>
        c.status().tenants.some((t) => t.namespace === namespace),
      );
      // The tenant selector holds: this controller sees its own tenant, none of the other tests'.
      expect(c.status().tenants.map((t) => t.namespace)).toEqual([namespace]);
      await editQuota(namespace, "97");
      await waitFor("the quota restored", 5_000, async () => (await quotaPods(namespace)) === "20");
      await waitFor("DriftDetected and DriftCorrected Events", 5_000, async () => {
        const found = [
          ...(await events(namespace, "DriftDetected")),
          ...(await events(namespace, "DriftCorrected")),
        ];
        return found.length === 2 && found;
      });
      // A missing object comes back too: server-side apply of an absent object is authorized as `create`.
      await core.deleteNamespacedLimitRange({ name: "neurallog-limits", namespace });
      await kc
        .makeApiClient(NetworkingV1Api)
        .deleteNamespacedNetworkPolicy({ name: "allow-dns-egress", namespace });
      await waitFor("the LimitRange and NetworkPolicy recreated", 5_000, async () => {
        const [limits, policy] = await Promise.all([
          core.readNamespacedLimitRange({ name: "neurallog-limits", namespace }),
          kc
            .makeApiClient(NetworkingV1Api)
            .readNamespacedNetworkPolicy({ name: "allow-dns-egress", namespace }),
        ]);
        return limits && policy;
      });
      expect(c.status().informers).toEqual(
        Object.fromEntries(
          [
            "namespaces",
            "configmaps",
            "resourcequotas",
            "limitranges",
            "networkpolicies",
            "roles",
            "rolebindings",
            "cronjobs",
            "events",
            "tenants",
          ].map((resource) => [resource, { synced: true, restarts: 0 }]),
        ),
      );
      expect(metricValue(await metrics(c), "neurallog_reconcile_total", { result: "error" }) ?? 0).toBe(0);
      // The generated Redis password, created by the ServiceAccount through the tenant namespace's RoleBinding.
      const secret = await core.readNamespacedSecret({ name: `${tenant}-redis-auth`, namespace });
      expect(secret.metadata?.managedFields?.map((f) => f.manager)).toEqual(["neurallog-controller"]);
      expect(await events(namespace, "RedisPasswordCreated")).toHaveLength(1);
      expect(await events(namespace, "RedisPasswordFailed")).toEqual([]);
      await stopController(c);
    } finally {
      await rbac.cleanup();
    }
  });

  it("grants report-only mode no write on quotas, limits or policies, only reads and Events", async () => {
    const rbac = await applyControllerRbac("report-only");
    const { namespace } = await createTenant({}, "rbac-report-only", kc, rbac);
    try {
      for (const rule of rbac.rules) {
        const writes = rule.verbs.filter((v) => !["get", "list", "watch"].includes(v));
        if (writes.length > 0) expect(rule.resources).toEqual(["events"]);
      }
      // What the API server's authorizer decides, not only what the rules say.
      for (const { group, resource } of TENANT_OBJECT_RESOURCES) {
        for (const verb of ["create", "patch", "update", "delete"])
          expect(await allowed(rbac.user, verb, group, resource, namespace), `${verb} ${resource}`).toBe(
            false,
          );
        for (const verb of ["get", "list", "watch"])
          expect(await allowed(rbac.user, verb, group, resource, namespace), `${verb} ${resource}`).toBe(
            true,
          );
      }
      expect(await allowed(rbac.user, "create", "", "events", namespace)).toBe(true);
      expect(await allowed(rbac.user, "get", "", "pods", namespace)).toBe(false);
      // Secrets: created in a tenant namespace (its RoleBinding), nowhere else, and never read.
      expect(await allowed(rbac.user, "create", "", "secrets", namespace)).toBe(true);
      expect(await allowed(rbac.user, "create", "", "secrets", "kube-system")).toBe(false);
      expect(await allowed(rbac.user, "create", "", "secrets", rbac.namespace)).toBe(false);
      for (const verb of ["get", "list", "watch", "update", "patch", "delete"])
        expect(await allowed(rbac.user, verb, "", "secrets", namespace), `${verb} secrets`).toBe(false);
    } finally {
      await rbac.cleanup();
    }
  });
});

describe("neurallog controller (the command)", () => {
  it("runs with --kubeconfig, serves /healthz and /status, reports drift, and releases its Lease on SIGTERM", async () => {
    const { tenant, namespace } = await createTenant();
    const lease = await leaseNamespace();
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        new URL("../bin/neurallog.ts", import.meta.url).pathname,
        "controller",
        "--kubeconfig",
        inject("kubeconfig"),
        "--port",
        String(port),
        "--tenant-selector",
        `${RUN_LABEL}=${run}`,
      ],
      {
        env: { ...process.env, POD_NAME: "cli-replica", POD_NAMESPACE: lease },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const status = await waitFor("the command's /status with the tenant", 30_000, async () => {
        const body = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as {
          leader: boolean;
          tenants: { tenant: string }[];
        };
        return body.leader && body.tenants.some((t) => t.tenant === tenant) && body;
      });
      expect(status).toMatchObject({ identity: "cli-replica", mode: "report-only" });
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      await editQuota(namespace, "97");
      const [event] = await waitFor("a DriftDetected Event", 5_000, async () => {
        const found = await events(namespace, "DriftDetected");
        return found.length > 0 && found;
      });
      expect(event!.reportingInstance).toBe("cli-replica");
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    const released = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({
      name: "neurallog-controller",
      namespace: lease,
    });
    expect(released.spec?.holderIdentity ?? "").toBe("");
    expect(output).toMatch(/"msg":"controller started"/);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A TCP proxy between the controller and the API server, so the test can take the API server away (every
 * connection cut, new ones refused) and bring it back, the way a restart looks from the client side.
 */
class ApiServerProxy {
  readonly kubeConfig: KubeConfig;
  readonly #target: { host: string; port: number };
  readonly #sockets: Set<Socket>;
  #server: Server;
  readonly #port: number;

  private constructor(
    server: Server,
    port: number,
    target: { host: string; port: number },
    sockets: Set<Socket>,
    kubeConfig: KubeConfig,
  ) {
    this.#server = server;
    this.#port = port;
    this.#target = target;
    this.#sockets = sockets;
    this.kubeConfig = kubeConfig;
  }

  static async start(kc: KubeConfig): Promise<ApiServerProxy> {
    const cluster = kc.getCurrentCluster()!;
    const target = new URL(cluster.server);
    const destination = { host: target.hostname, port: Number(target.port) };
    const sockets = new Set<Socket>();
    const server = await ApiServerProxy.#listen(0, destination, sockets);
    const port = (server.address() as { port: number }).port;
    const proxied = new KubeConfig();
    proxied.loadFromOptions({
      clusters: [{ ...cluster, server: `https://127.0.0.1:${port}` }],
      users: kc.getUsers(),
      contexts: kc.getContexts(),
      currentContext: kc.getCurrentContext(),
    });
    return new ApiServerProxy(server, port, destination, sockets, proxied);
  }

  static #listen(
    port: number,
    target: { host: string; port: number },
    sockets: Set<Socket>,
  ): Promise<Server> {
    const server = createServer((client) => {
      const upstream = connect(target.port, target.host);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve(server));
    });
  }

  /** Cuts every connection and refuses new ones for `ms`, then accepts again on the same port. */
  async outage(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
    await new Promise((resolve) => setTimeout(resolve, ms));
    this.#server = await ApiServerProxy.#listen(this.#port, this.#target, this.#sockets);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
