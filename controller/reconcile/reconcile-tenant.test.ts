/**
 * Reconcile, driven with objects, asserting the exact API actions it takes (the sample-controller way).
 */
import { describe, expect, it } from "vitest";
import type { CoreV1Event, KubernetesObject, V1NetworkPolicy, V1Secret } from "@kubernetes/client-node";
import {
  AlreadyExistsError,
  NotFoundError,
  type EventPatch,
  type KubeActions,
} from "../kube/kube-actions.ts";
import type { TenantObject, TenantStatusFields } from "../../contracts/tenant-status.ts";
import { EventRecorder, eventName } from "./event-recorder.ts";
import { RedisPasswords } from "./redis-password.ts";
import { CorrectionMode, reconcileTenant, type ReconcileDependencies } from "./reconcile-tenant.ts";
import {
  NOW,
  NS,
  cacheOf,
  clusterObjects,
  tenantConfigMap,
  tenantObject,
  type ClusterObjects,
} from "../../test/support/test-tenant.ts";

type Action =
  | { verb: "create"; resource: "events"; name: string; reason: string; type: string; message: string }
  | { verb: "create"; resource: "secrets"; name: string; body: V1Secret }
  | { verb: "patch"; resource: "events"; name: string; count?: number; message: string }
  | { verb: "apply"; resource: string; name: string; body: KubernetesObject }
  | { verb: "remove"; resource: string; name: string; resourceVersion: string; fields: string[][] }
  | { verb: "apply"; resource: "tenants/status"; name: string; status: TenantStatusFields };

/** Records every write; Events it was asked to create exist afterwards (AlreadyExists / NotFound like the API). */
class RecordingActions implements KubeActions {
  readonly actions: Action[] = [];
  readonly events = new Set<string>();
  readonly secrets = new Set<string>();
  failApply = false;
  failSecret = false;

  async createSecret(secret: V1Secret): Promise<void> {
    const name = secret.metadata!.name!;
    if (this.failSecret) throw new Error('secrets is forbidden: User cannot create resource "secrets"');
    if (this.secrets.has(name)) throw new AlreadyExistsError(name);
    this.secrets.add(name);
    this.actions.push({ verb: "create", resource: "secrets", name, body: secret });
  }

  async createEvent(event: CoreV1Event): Promise<void> {
    const name = event.metadata.name!;
    if (this.events.has(name)) throw new AlreadyExistsError(name);
    this.events.add(name);
    this.actions.push({
      verb: "create",
      resource: "events",
      name,
      reason: event.reason!,
      type: event.type!,
      message: event.message!,
    });
  }

  async patchEvent(_namespace: string, name: string, patch: EventPatch): Promise<void> {
    if (!this.events.has(name)) throw new NotFoundError(name);
    this.actions.push({
      verb: "patch",
      resource: "events",
      name,
      ...(patch.count !== undefined ? { count: patch.count } : {}),
      message: patch.message,
    });
  }

  async applyObject(object: KubernetesObject): Promise<void> {
    if (this.failApply) throw new Error("admission webhook denied the request");
    this.actions.push({
      verb: "apply",
      resource: `${object.kind!.toLowerCase()}s`,
      name: object.metadata!.name!,
      body: object,
    });
  }

  async removeFields(
    object: KubernetesObject,
    resourceVersion: string,
    fields: readonly (readonly string[])[],
  ) {
    this.actions.push({
      verb: "remove",
      resource: `${object.kind!.toLowerCase()}s`,
      name: object.metadata!.name!,
      resourceVersion,
      fields: fields.map((f) => [...f]),
    });
  }

  async applyTenantStatus(tenant: TenantObject, status: TenantStatusFields): Promise<void> {
    this.actions.push({ verb: "apply", resource: "tenants/status", name: tenant.metadata!.name!, status });
  }

  take(): Action[] {
    return this.actions.splice(0);
  }

  /** Actions without the apply bodies and event messages: the list a reader checks at a glance. */
  takeShort(): string[] {
    return this.take().map((a) =>
      a.verb === "create" && a.resource === "events"
        ? `create events ${a.reason}`
        : `${a.verb} ${a.resource} ${"name" in a ? a.name : ""}`,
    );
  }
}

function setup(objects: Partial<ClusterObjects>, mode: CorrectionMode = CorrectionMode.ReportOnly) {
  const actions = new RecordingActions();
  let now = NOW;
  const deps: ReconcileDependencies = {
    cache: cacheOf(objects),
    actions,
    events: new EventRecorder(actions, { instance: "test-0", repeatAfterMs: 30 * 60_000 }),
    mode,
    now: () => now,
  };
  return {
    actions,
    deps,
    reconcile: () => reconcileTenant(NS, deps),
    advance: (ms: number) => (now = new Date(now.getTime() + ms)),
    withObjects: (next: Partial<ClusterObjects>) => ((deps as { cache: unknown }).cache = cacheOf(next)),
  };
}

const editedQuota = (objects = clusterObjects()) => ({
  ...objects,
  quota: { ...objects.quota, spec: { hard: { ...objects.quota.spec!.hard, pods: "30" } } },
});

describe("reconcileTenant", () => {
  it("takes no action for a tenant in its desired state, and reports it healthy", async () => {
    const { reconcile, actions } = setup(clusterObjects());
    const status = await reconcile();
    expect(actions.take()).toEqual([]);
    expect(status?.drift).toEqual([]);
    expect(status?.desiredState).toEqual({ state: "ok" });
    expect(status?.backup?.state).toBe("healthy");
    expect(status?.quota.find((q) => q.resource === "pods")).toMatchObject({
      used: "4",
      hard: "20",
      level: "ok",
    });
    expect(status?.quota.every((q) => q.level === "ok")).toBe(true);
  });

  it("reports an out-of-band quota edit once as a DriftDetected Event, without touching the quota", async () => {
    const { reconcile, actions } = setup(editedQuota());
    const status = await reconcile();
    expect(status?.drift).toEqual([
      {
        kind: "ResourceQuota",
        name: "neurallog-quota",
        state: "different",
        fields: ["spec.hard.pods"],
        extraFields: [],
      },
    ]);
    expect(actions.take()).toEqual([
      {
        verb: "create",
        resource: "events",
        name: eventName(NS, { reason: "DriftDetected", subject: "ResourceQuota/neurallog-quota" }),
        reason: "DriftDetected",
        type: "Warning",
        message: "ResourceQuota neurallog-quota differs from the desired state in spec.hard.pods",
      },
    ]);
    // Level-based and run often: the same drift does not write again.
    await reconcile();
    await reconcile();
    expect(actions.take()).toEqual([]);
  });

  it("bumps the Event after the repeat interval while the drift lasts, and reports it anew after it cleared", async () => {
    const { reconcile, actions, advance, withObjects } = setup(editedQuota());
    await reconcile();
    actions.take();
    advance(31 * 60_000);
    await reconcile();
    expect(actions.takeShort()).toEqual([
      `patch events ${eventName(NS, { reason: "DriftDetected", subject: "ResourceQuota/neurallog-quota" })}`,
    ]);
    withObjects(clusterObjects());
    await reconcile();
    expect(actions.take()).toEqual([]);
    withObjects(editedQuota());
    await reconcile();
    // The Event object still exists (Event TTL): updated, not duplicated.
    expect(actions.take()).toMatchObject([{ verb: "patch", resource: "events" }]);
  });

  it("in self-heal mode server-side applies the desired quota, then reports drift and correction", async () => {
    const { reconcile, actions } = setup(editedQuota(), CorrectionMode.SelfHeal);
    const status = await reconcile();
    expect(status?.corrected).toEqual(["ResourceQuota/neurallog-quota"]);
    const taken = actions.take();
    expect(taken.map((a) => `${a.verb} ${a.resource} ${"reason" in a ? a.reason : a.name}`)).toEqual([
      "apply resourcequotas neurallog-quota",
      "create events DriftDetected",
      "create events DriftCorrected",
    ]);
    expect(taken[0]).toMatchObject({
      body: {
        apiVersion: "v1",
        kind: "ResourceQuota",
        metadata: { name: "neurallog-quota", namespace: NS },
        spec: { hard: { "requests.cpu": "2", "requests.memory": "2Gi", pods: "20" } },
      },
    });
    expect(Object.keys((taken[0] as { body: object }).body)).toEqual([
      "apiVersion",
      "kind",
      "metadata",
      "spec",
    ]);
  });

  it("removes quota keys nobody desired (server-side apply cannot), conditional on the resourceVersion, then applies", async () => {
    const objects = clusterObjects();
    const quota = { ...objects.quota, spec: { hard: { ...objects.quota.spec!.hard, "count/secrets": "5" } } };
    const { reconcile, actions } = setup({ ...objects, quota }, CorrectionMode.SelfHeal);
    const status = await reconcile();
    expect(status?.drift).toEqual([
      {
        kind: "ResourceQuota",
        name: "neurallog-quota",
        state: "different",
        fields: ["spec.hard.count/secrets"],
        extraFields: [["spec", "hard", "count/secrets"]],
      },
    ]);
    expect(actions.take().slice(0, 2)).toEqual([
      {
        verb: "remove",
        resource: "resourcequotas",
        name: "neurallog-quota",
        resourceVersion: "41",
        fields: [["spec", "hard", "count/secrets"]],
      },
      expect.objectContaining({ verb: "apply", name: "neurallog-quota" }),
    ]);
  });

  it("sees a rule added to a deny-all NetworkPolicy and a scope added to the quota as drift, and removes them", async () => {
    const objects = clusterObjects();
    const networkPolicies = structuredClone(objects.networkPolicies);
    const deny = networkPolicies.find((p) => p.metadata?.name === "default-deny")!;
    expect(deny.spec?.ingress).toBeUndefined();
    deny.metadata!.resourceVersion = "77";
    deny.spec!.ingress = [{}];
    const quota = { ...objects.quota, spec: { ...objects.quota.spec, scopes: ["BestEffort"] } };
    const { reconcile, actions } = setup({ ...objects, quota, networkPolicies }, CorrectionMode.SelfHeal);
    const status = await reconcile();
    expect(status?.drift.map((d) => [d.kind, d.name, d.fields])).toEqual([
      ["NetworkPolicy", "default-deny", ["spec.ingress"]],
      ["ResourceQuota", "neurallog-quota", ["spec.scopes"]],
    ]);
    expect(actions.takeShort()).toEqual([
      "remove networkpolicys default-deny",
      "apply networkpolicys default-deny",
      "remove resourcequotas neurallog-quota",
      "apply resourcequotas neurallog-quota",
      "create events DriftDetected",
      "create events DriftDetected",
      "create events DriftCorrected",
      "create events DriftCorrected",
    ]);
  });

  it("reports a missing LimitRange and extra objects git does not define, labelled or not; self-heal restores the first, never deletes", async () => {
    const { limitRange: _gone, ...objects } = clusterObjects();
    const labelled: V1NetworkPolicy = {
      metadata: { name: "allow-all", namespace: NS, labels: { "neurallog.io/tenant": "acme" } },
      spec: { podSelector: {}, ingress: [{}] },
    };
    // What `kubectl apply` of a hand-written allow-all policy leaves: no tenant label at all.
    const handApplied: V1NetworkPolicy = {
      metadata: { name: "debug-allow-all", namespace: NS, resourceVersion: "90" },
      spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"], ingress: [{}], egress: [{}] },
    };
    const otherNamespace: V1NetworkPolicy = {
      metadata: { name: "mesh-default", namespace: "istio-system" },
      spec: { podSelector: {} },
    };
    const networkPolicies = [...objects.networkPolicies, labelled, handApplied, otherNamespace];
    // A RoleBinding handing the tenant's default ServiceAccount edit rights, applied by hand (no tenant label).
    const roleBinding = {
      metadata: { name: "default-edit", namespace: NS },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" },
      subjects: [{ kind: "ServiceAccount", name: "default", namespace: NS }],
    };
    const role = {
      metadata: { name: "secrets-reader", namespace: NS },
      rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list"] }],
    };
    const { reconcile, actions } = setup(
      { ...objects, networkPolicies, roles: [role], roleBindings: [...objects.roleBindings, roleBinding] },
      CorrectionMode.SelfHeal,
    );
    const status = await reconcile();
    expect(status?.drift).toEqual([
      { kind: "LimitRange", name: "neurallog-limits", state: "missing", fields: [], extraFields: [] },
      { kind: "NetworkPolicy", name: "allow-all", state: "extra", fields: [], extraFields: [] },
      { kind: "NetworkPolicy", name: "debug-allow-all", state: "extra", fields: [], extraFields: [] },
      { kind: "Role", name: "secrets-reader", state: "extra", fields: [], extraFields: [] },
      { kind: "RoleBinding", name: "default-edit", state: "extra", fields: [], extraFields: [] },
    ]);
    const taken = actions.take();
    expect(taken.map((a) => `${a.verb} ${"reason" in a ? a.reason : a.name}`)).toEqual([
      "apply neurallog-limits",
      "create DriftDetected",
      "create DriftDetected",
      "create DriftDetected",
      "create DriftDetected",
      "create DriftDetected",
      "create DriftCorrected",
    ]);
    expect(taken.filter((a) => a.verb === "create").map((a) => (a as { message: string }).message)).toContain(
      "NetworkPolicy debug-allow-all is not defined by git (not in the tenant ConfigMap)",
    );
  });

  it("judges the controller's own RoleBinding against the rendered one, and never writes RBAC, in self-heal either", async () => {
    const objects = clusterObjects();
    const [binding] = objects.roleBindings;
    // Someone points the controller's binding at cluster-admin and adds a subject.
    const escalated = structuredClone(binding!);
    escalated.roleRef.name = "cluster-admin";
    escalated.subjects!.push({ kind: "User", name: "mallory" });
    const { reconcile, actions } = setup({ ...objects, roleBindings: [escalated] }, CorrectionMode.SelfHeal);
    const status = await reconcile();
    expect(status?.drift).toEqual([
      {
        kind: "RoleBinding",
        name: "neurallog-controller",
        state: "different",
        fields: ["spec.roleRef.name", "spec.subjects"],
        extraFields: [],
      },
    ]);
    expect(actions.takeShort()).toEqual(["create events DriftDetected"]);

    const missing = setup({ ...objects, roleBindings: [] }, CorrectionMode.SelfHeal);
    expect((await missing.reconcile())?.drift).toMatchObject([{ kind: "RoleBinding", state: "missing" }]);
    expect(missing.actions.takeShort()).toEqual(["create events DriftDetected"]);
  });

  it("creates the generated Redis password Secret once, create-only, and reports it", async () => {
    const { reconcile, actions, deps, advance } = setup(clusterObjects());
    const passwords = new RedisPasswords(actions, { recheckMs: 10 * 60_000 });
    (deps as { passwords?: RedisPasswords }).passwords = passwords;
    await reconcile();
    const [created, event, ...rest] = actions.take();
    expect(rest).toEqual([]);
    expect(created).toMatchObject({ verb: "create", resource: "secrets", name: "acme-redis-auth" });
    const secret = (created as { body: V1Secret }).body;
    expect(secret.metadata).toMatchObject({ namespace: NS, labels: { "neurallog.io/tenant": "acme" } });
    // Argo CD would prune an object carrying its tracking label; the Secret is not the application's.
    expect(Object.keys(secret.metadata!.labels!)).not.toContain("app.kubernetes.io/instance");
    const password = Buffer.from(secret.data!.password!, "base64").toString();
    expect(password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(event).toMatchObject({ verb: "create", resource: "events", reason: "RedisPasswordCreated" });
    expect((event as { message: string }).message).not.toContain(password);

    // Within the recheck interval: no API call at all. After it: a create that finds the Secret, and no Event.
    await reconcile();
    expect(actions.take()).toEqual([]);
    advance(10 * 60_000);
    await reconcile();
    expect(actions.take()).toEqual([]);
    expect(actions.secrets.size).toBe(1);

    // Deleted by hand: it comes back with a new password at the next check.
    actions.secrets.clear();
    advance(10 * 60_000);
    await reconcile();
    const [again] = actions.take();
    expect(again).toMatchObject({ resource: "secrets", name: "acme-redis-auth" });
    expect(Buffer.from((again as { body: V1Secret }).body.data!.password!, "base64").toString()).not.toBe(
      password,
    );
  });

  it("reports a Secret it may not create as a Warning and tries again at the next reconcile; a named Secret is left alone", async () => {
    const { reconcile, actions, deps } = setup(clusterObjects());
    (deps as { passwords?: RedisPasswords }).passwords = new RedisPasswords(actions);
    actions.failSecret = true;
    await reconcile();
    const [warning] = actions.take();
    expect(warning).toMatchObject({ resource: "events", reason: "RedisPasswordFailed", type: "Warning" });
    expect((warning as { message: string }).message).toContain("docs/runbooks/redis-password.md");
    actions.failSecret = false;
    await reconcile();
    expect(actions.takeShort()).toEqual([
      "create secrets acme-redis-auth",
      "create events RedisPasswordCreated",
    ]);

    const objects = clusterObjects();
    const state = JSON.parse(objects.configMap.data!["tenant.json"]!);
    state.tenant.redis.passwordSecret = { name: "acme-vault-redis", key: "password", generated: false };
    objects.configMap.data!["tenant.json"] = JSON.stringify(state);
    const named = setup(objects);
    (named.deps as { passwords?: RedisPasswords }).passwords = new RedisPasswords(named.actions);
    await named.reconcile();
    expect(named.actions.take()).toEqual([]);
  });

  it("reports a failed correction as an Event and fails the reconcile so the queue retries", async () => {
    const { reconcile, actions } = setup(editedQuota(), CorrectionMode.SelfHeal);
    actions.failApply = true;
    await expect(reconcile()).rejects.toThrow(/restoring ResourceQuota\/neurallog-quota in nl-acme/);
    expect(actions.takeShort()).toEqual([
      "create events DriftDetected",
      "create events DriftCorrectionFailed",
    ]);
  });

  it("warns at 80% and raises the critical Event at 95% of a quota resource", async () => {
    const objects = clusterObjects();
    const usage = (pods: string, cpu: string) => ({
      ...objects,
      quota: {
        ...objects.quota,
        status: {
          hard: objects.quota.status!.hard,
          used: { ...objects.quota.status!.used, pods, "requests.cpu": cpu },
        },
      },
    });
    const { reconcile, actions, withObjects } = setup(usage("16", "1"));
    const status = await reconcile();
    expect(status?.quota.find((q) => q.resource === "pods")).toMatchObject({ ratio: 0.8, level: "warning" });
    expect(actions.take()).toMatchObject([
      { reason: "QuotaUsageHigh", message: "pods at 80% of quota neurallog-quota (16/20)" },
    ]);
    withObjects(usage("16", "1950m"));
    await reconcile();
    expect(actions.take()).toMatchObject([
      { reason: "QuotaUsageCritical", message: "requests.cpu at 97% of quota neurallog-quota (1950m/2)" },
    ]);
  });

  it("reports pods that controllers could not create because of the quota", async () => {
    const objects = clusterObjects();
    const rejected: CoreV1Event = {
      metadata: { name: "acme-server-6d4f.1", namespace: NS },
      involvedObject: { kind: "ReplicaSet", name: "acme-server-6d4f", namespace: NS },
      reason: "FailedCreate",
      message:
        'Error creating: pods "acme-server-6d4f-x" is forbidden: exceeded quota: neurallog-quota, requested: pods=1, used: pods=20, limited: pods=20',
      count: 7,
      lastTimestamp: new Date(NOW.getTime() - 60_000),
    };
    const unrelated: CoreV1Event = {
      ...rejected,
      metadata: { name: "other.1", namespace: NS },
      message: "Error creating: pods is forbidden: violates PodSecurity",
    };
    const old: CoreV1Event = {
      ...rejected,
      metadata: { name: "old.1", namespace: NS },
      involvedObject: { kind: "Job", name: "acme-backup-1" },
      lastTimestamp: new Date(NOW.getTime() - 2 * 3600_000),
    };
    const { reconcile, actions } = setup({ ...objects, events: [rejected, unrelated, old] });
    const status = await reconcile();
    expect(status?.rejectedPods).toEqual([
      {
        object: "ReplicaSet/acme-server-6d4f",
        count: 7,
        lastSeen: "2026-11-27T11:59:00.000Z",
        message: rejected.message,
      },
    ]);
    expect(actions.take()).toMatchObject([{ verb: "create", reason: "PodsRejectedByQuota" }]);
  });

  it("reports overcommit when the enforced quota cannot hold the workloads at maximum scale", async () => {
    const objects = clusterObjects();
    objects.quota.spec!.hard!.pods = "3";
    const { reconcile, actions } = setup(objects);
    const status = await reconcile();
    expect(status?.overcommit).toEqual([
      expect.objectContaining({
        resource: "pods",
        hard: "3",
        needs: "5",
        detail: "server 3 + redis 1 + backup 1 = 5",
      }),
    ]);
    expect(actions.take().map((a) => ("reason" in a ? a.reason : a.verb))).toEqual([
      "DriftDetected",
      "QuotaOvercommitted",
    ]);
  });

  it("raises BackupStale when the last success is older than twice the schedule interval", async () => {
    const objects = clusterObjects();
    const cronJob = { ...objects.cronJob!, status: { lastSuccessfulTime: new Date("2026-11-25T01:31:00Z") } };
    const { reconcile, actions } = setup({ ...objects, cronJob });
    const status = await reconcile();
    expect(status?.backup).toMatchObject({ state: "stale", intervalSeconds: 86_400, cronJob: "acme-backup" });
    expect(actions.take()).toMatchObject([
      {
        reason: "BackupStale",
        message: expect.stringMatching(/^last good backup 2d10h ago, more than 2× .*"30 1 \* \* \*"/),
      },
    ]);
  });

  it("calls a CronJob that never succeeded pending until its first success is due, then raises BackupMissing", async () => {
    const objects = clusterObjects();
    // Daily at 01:30, created 06:00 today: the first run is tomorrow 01:30; due one interval (24 h) plus the grace
    // the rendered deadlines give a run (startingDeadlineSeconds 600 + activeDeadlineSeconds 3600) after creation.
    const fresh = structuredClone(objects.cronJob!);
    fresh.metadata!.creationTimestamp = new Date("2026-11-27T06:00:00Z");
    fresh.status = {};
    const { reconcile, actions, advance } = setup({ ...objects, cronJob: fresh });
    expect((await reconcile())?.backup).toEqual({
      state: "pending",
      cronJob: "acme-backup",
      schedule: "30 1 * * *",
      intervalSeconds: 86_400,
      firstSuccessDue: "2026-11-28T07:10:00.000Z",
      detail:
        "no backup yet: the CronJob was created 6h ago, its first success is due by 2026-11-28T07:10:00.000Z",
    });
    expect(actions.take()).toEqual([]);
    advance(19 * 3600_000 + 10 * 60_000); // 07:10 the next day: still due, not late
    expect((await reconcile())?.backup?.state).toBe("pending");
    expect(actions.take()).toEqual([]);
    advance(60_000);
    const late = await reconcile();
    expect(late?.backup).toMatchObject({
      state: "never-succeeded",
      firstSuccessDue: "2026-11-28T07:10:00.000Z",
    });
    expect(late?.backup?.ageSeconds).toBeUndefined();
    expect(actions.take()).toMatchObject([
      {
        verb: "create",
        reason: "BackupMissing",
        type: "Warning",
        message:
          'no successful backup since the CronJob was created 25h11m ago (first success was due by 2026-11-28T07:10:00.000Z, schedule "30 1 * * *")',
      },
    ]);
  });

  it("calls a CronJob healthy after its first success, and reports a missing one as BackupStale", async () => {
    const objects = clusterObjects();
    const fresh = structuredClone(objects.cronJob!);
    fresh.metadata!.creationTimestamp = new Date("2026-11-27T06:00:00Z");
    fresh.status = { lastSuccessfulTime: new Date("2026-11-27T11:59:00Z") };
    const { reconcile, actions, withObjects } = setup({ ...objects, cronJob: fresh });
    expect((await reconcile())?.backup).toMatchObject({ state: "healthy", ageSeconds: 60 });
    withObjects({ ...objects, cronJob: undefined });
    expect((await reconcile())?.backup?.state).toBe("missing");
    expect(actions.take()).toMatchObject([
      { reason: "BackupStale", message: "backup CronJob acme-backup does not exist" },
    ]);
  });

  it("reports a missing or unreadable tenant ConfigMap but still reports quota usage", async () => {
    const objects = clusterObjects();
    const { reconcile, actions, withObjects } = setup({ ...objects, configMap: undefined });
    const status = await reconcile();
    expect(status?.desiredState.state).toBe("missing");
    expect(status?.quota.length).toBeGreaterThan(3);
    expect(actions.take()).toMatchObject([{ reason: "DesiredStateUnavailable" }]);
    const broken = tenantConfigMap();
    withObjects({ ...objects, configMap: { ...broken, data: { "tenant.json": "{not json" } } });
    expect((await reconcile())?.desiredState).toEqual({
      state: "invalid",
      detail: 'ConfigMap nl-acme/neurallog-tenant: data key "tenant.json" is not JSON',
    });
  });

  it("ignores namespaces that are not a tenant's", async () => {
    const objects = clusterObjects();
    const { reconcile, actions } = setup({ ...objects, namespace: { metadata: { name: NS } } });
    expect(await reconcile()).toBeUndefined();
    expect(actions.take()).toEqual([]);
  });

  it("compares quantities by value and ignores fields the API server and other tools add", async () => {
    // The cluster side spells 2Gi as 2048Mi (fixture), and carries what the API server and Argo CD add.
    const objects = clusterObjects();
    const networkPolicies = objects.networkPolicies.map((policy) => {
      const copy = structuredClone(policy);
      copy.metadata!.annotations = { ...copy.metadata!.annotations, "argocd.argoproj.io/tracking-id": "x" };
      copy.metadata!.resourceVersion = "7";
      copy.metadata!.managedFields = [{ manager: "argocd-controller", operation: "Apply" }];
      return copy;
    });
    expect(objects.quota.spec!.hard!["requests.memory"]).toBe("2048Mi");
    const { reconcile } = setup({ ...objects, networkPolicies });
    expect((await reconcile())?.drift).toEqual([]);
  });

  it("sees a changed NetworkPolicy rule and a removed tenant label as drift", async () => {
    const objects = clusterObjects();
    const networkPolicies = structuredClone(objects.networkPolicies);
    const dns = networkPolicies.find((p) => p.metadata?.name === "allow-dns-egress")!;
    dns.spec!.egress![0]!.ports![0]!.port = 5353;
    delete dns.metadata!.labels!["neurallog.io/tenant"];
    const { reconcile } = setup({ ...objects, networkPolicies });
    expect((await reconcile())?.drift).toEqual([
      {
        kind: "NetworkPolicy",
        name: "allow-dns-egress",
        state: "different",
        fields: ["metadata.labels.neurallog.io/tenant", "spec.egress[0].ports[0].port"],
        extraFields: [],
      },
    ]);
  });
});

describe("the Tenant status", () => {
  const withTenant = (objects = clusterObjects()) => ({ ...objects, tenant: tenantObject() });
  /** The stored object after a status write, as the informer's watch brings it back. */
  const stored = (status: TenantStatusFields) => ({
    ...tenantObject(),
    status: JSON.parse(JSON.stringify(status)),
  });

  it("is written once for a new Tenant, and not again while nothing changes (a new leader included)", async () => {
    const objects = withTenant();
    const { reconcile, actions, advance, withObjects, deps } = setup(objects);
    await reconcile();
    const [write] = actions.take();
    expect(write).toMatchObject({ verb: "apply", resource: "tenants/status", name: "acme" });
    const status = (write as { status: TenantStatusFields }).status;
    expect(status.conditions!.map((c) => `${c.type}=${c.status} ${c.reason}`)).toEqual([
      "Ready=True AllHealthy",
      "BackupHealthy=True BackupSucceeded",
      "QuotaHealthy=True QuotaWithinLimits",
      "InSync=True NoDrift",
    ]);
    expect(status).toMatchObject({ observedGeneration: 1, phase: "Active", plan: "standard" });
    expect(status.lastBackup).toEqual({ time: "2026-11-27T01:31:10Z" });

    withObjects({ ...objects, tenant: stored(status) });
    advance(5 * 60_000);
    await reconcile();
    expect(actions.take()).toEqual([]);
    // A new leader: no memory, the same cache.
    const next = new RecordingActions();
    await reconcileTenant(NS, {
      ...deps,
      actions: next,
      events: new EventRecorder(next, { instance: "test-1" }),
    });
    expect(next.take().filter((a) => a.resource === "tenants/status")).toEqual([]);
  });

  it("turns InSync False on drift and back, keeping each unchanged condition's transition time", async () => {
    const objects = withTenant();
    const { reconcile, actions, advance, withObjects } = setup(objects);
    await reconcile();
    const first = (actions.take()[0] as { status: TenantStatusFields }).status;
    advance(60_000);
    withObjects({ ...editedQuota(objects), tenant: stored(first) });
    await reconcile();
    const drifted = (
      actions.take().find((a) => a.resource === "tenants/status") as { status: TenantStatusFields }
    ).status;
    const byType = (s: TenantStatusFields) => Object.fromEntries(s.conditions!.map((c) => [c.type, c]));
    expect(byType(drifted).InSync).toMatchObject({ status: "False", reason: "DriftDetected" });
    expect(byType(drifted).InSync!.message).toContain("ResourceQuota/neurallog-quota different");
    expect(byType(drifted).Ready).toMatchObject({ status: "False", reason: "DriftDetected" });
    expect(byType(drifted).InSync!.lastTransitionTime).toBe("2026-11-27T12:01:00Z");
    expect(byType(drifted).BackupHealthy!.lastTransitionTime).toBe(
      byType(first).BackupHealthy!.lastTransitionTime,
    );
    expect(drifted.drift).toEqual({
      count: 1,
      objects: [
        { kind: "ResourceQuota", name: "neurallog-quota", state: "different", fields: ["spec.hard.pods"] },
      ],
    });
  });

  it("says QuotaHealthy=False at 96% (near the limit) and at 100% (exhausted), and Unknown while the first backup is pending", async () => {
    const conditions = async (objects: ClusterObjects) => {
      const { reconcile, actions } = setup(objects);
      await reconcile();
      const write = actions.take().find((a) => a.resource === "tenants/status") as {
        status: TenantStatusFields;
      };
      return Object.fromEntries(write.status.conditions!.map((c) => [c.type, `${c.status} ${c.reason}`]));
    };
    const at = (pods: string) => {
      const objects = withTenant();
      objects.quota.status!.hard!.pods = "25";
      objects.quota.status!.used!.pods = pods;
      return objects;
    };
    expect(await conditions(at("24"))).toMatchObject({
      QuotaHealthy: "False QuotaNearLimit",
      Ready: "False QuotaNearLimit",
    });
    expect(await conditions(at("25"))).toMatchObject({ QuotaHealthy: "False QuotaExhausted" });
    const pending = withTenant();
    pending.cronJob = {
      ...pending.cronJob!,
      metadata: { ...pending.cronJob!.metadata, creationTimestamp: NOW },
      status: {},
    };
    expect(await conditions(pending)).toMatchObject({
      BackupHealthy: "Unknown BackupPending",
      Ready: "Unknown BackupPending",
    });
  });

  it("is not written without a Tenant object (before Argo CD synced it)", async () => {
    const { reconcile, actions } = setup(clusterObjects());
    await reconcile();
    expect(actions.take()).toEqual([]);
  });
});
