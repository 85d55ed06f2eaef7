/**
 * The Tenant object's status, written by the controller against the real test cluster, through one scripted
 * story: a tenant synced the way Argo CD syncs it (its Tenant by Argo CD's user: the admission policy admits no
 * one else), its first backup pending, then recorded, quota pushed to 96%, an out-of-band quota edit and its
 * revert, a leader switch that must not rewrite (or flap) anything, and `kubectl get tenants -A` (the built
 * kubectl) showing the columns. The controller looks only at this file's tenant (`tenantSelector`).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { pino } from "pino";
import { parse } from "yaml";
import { platformObjects } from "../charts-src/charts/platform-chart.ts";
import { tenantObjects } from "../charts-src/charts/tenant-chart.ts";
import { resolvePlatform, resolveTenant } from "../charts-src/model/resolve.ts";
import type { PlatformFile, TenantFile } from "../charts-src/model/tenant-schema.ts";
import type { Condition, TenantObject } from "../contracts/tenant-status.ts";
import { applyManifests } from "../test/cluster/apply-manifests.ts";
import { asArgoCd } from "../test/cluster/argocd/argo-cd.ts";
import { ensureClusterBinaries } from "../test/cluster/binaries.ts";
import { clusterKubeConfig, uniqueName } from "../test/cluster/cluster-access.ts";
import { startController, type RunningController } from "./main.ts";

const RUN_LABEL = "neurallog.io/tenant-status-test-run";
const run = uniqueName("run");
const logger = pino({ level: process.env.NL_CTL_TEST_LOG ?? "silent" });
const platformFile = parse(
  readFileSync(new URL("../tenants/_platform.yaml", import.meta.url), "utf8"),
) as PlatformFile;

let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
const controllers: RunningController[] = [];
const namespaces: string[] = [];
const tenant = uniqueName("st");
let namespace: string;
let leaseNamespace: string;

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

async function readTenant(): Promise<TenantObject> {
  return (await custom.getNamespacedCustomObject({
    group: "neurallog.io",
    version: "v1alpha1",
    namespace,
    plural: "tenants",
    name: tenant,
  })) as TenantObject;
}

const conditionsOf = (t: TenantObject) =>
  Object.fromEntries((t.status?.conditions ?? []).map((c) => [c.type, c])) as Record<string, Condition>;

/** Waits until the stored conditions say `wanted` (type → "status reason"); returns the Tenant. */
async function waitForConditions(what: string, wanted: Record<string, string>): Promise<TenantObject> {
  let seen: TenantObject | undefined;
  try {
    return await waitFor(what, 20_000, async () => {
      seen = await readTenant();
      const have = conditionsOf(seen);
      return (
        Object.entries(wanted).every(([type, sr]) => `${have[type]?.status} ${have[type]?.reason}` === sr) &&
        seen
      );
    });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last status: ${JSON.stringify(seen?.status)}`, {
      cause: error,
    });
  }
}

async function controller(): Promise<RunningController> {
  const started = await startController({
    kubeConfig: kc,
    mode: "report-only",
    port: 0,
    host: "127.0.0.1",
    leaseNamespace,
    tenantSelector: `${RUN_LABEL}=${run}`,
    logger,
    resyncMs: 1_000,
    timings: { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 },
  });
  controllers.push(started);
  return started;
}

beforeAll(async () => {
  kc = clusterKubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  leaseNamespace = uniqueName("nl-st-lease");
  await core.createNamespace({ body: { metadata: { name: leaseNamespace } } });
  namespaces.push(leaseNamespace);
  // The admission policy is the platform's; installing it here proves the controller's status writes pass it.
  const policy = platformObjects(resolvePlatform(platformFile)).filter((o) =>
    String(o.kind).startsWith("ValidatingAdmissionPolicy"),
  ) as KubernetesObject[];
  // Applied as Argo CD's platform Application syncs it: the same manager as the other files that install the
  // platform's policies on the shared cluster, so whichever comes first, no field conflicts.
  await applyManifests(kc, policy, { fieldManager: "argocd-controller" });

  const file = {
    apiVersion: "neurallog.io/v1alpha1",
    kind: "Tenant",
    metadata: { name: tenant },
    spec: {
      plan: "small",
      owners: [{ kind: "Group", name: "status-story" }],
      quota: { hard: { configmaps: "25" } },
    },
  } as TenantFile;
  const objects = tenantObjects(
    resolveTenant(file, platformFile),
    resolvePlatform(platformFile),
  ) as (KubernetesObject & Record<string, unknown>)[];
  const wanted = [
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "NetworkPolicy",
    "RoleBinding",
    "CronJob",
    "Tenant",
  ];
  const selected = objects.filter(
    (o) => wanted.includes(o.kind!) || (o.kind === "ConfigMap" && o.metadata!.name === "neurallog-tenant"),
  );
  const ns = selected.find((o) => o.kind === "Namespace")!;
  ns.metadata!.labels = { ...ns.metadata!.labels, [RUN_LABEL]: run };
  namespace = ns.metadata!.name!;
  namespaces.push(namespace);
  await applyManifests(kc, [ns], { fieldManager: "argocd-controller" });
  await applyManifests(
    asArgoCd(kc),
    selected.filter((o) => o !== ns),
    { fieldManager: "argocd-controller" },
  );
});

afterAll(async () => {
  await Promise.all(controllers.map((c) => c.stop()));
  await Promise.all(namespaces.map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
});

describe("the Tenant status the controller writes", () => {
  it("is refused to anyone but Argo CD for the Tenant itself, while the controller writes its status", async () => {
    // A dry run goes through admission and changes nothing; the policy takes effect once the API server has
    // loaded it, so this waits for the refusal instead of assuming it.
    const refusal = await waitFor("the Tenant admission policy refusing the admin", 20_000, async () => {
      try {
        await custom.patchNamespacedCustomObject(
          {
            group: "neurallog.io",
            version: "v1alpha1",
            namespace,
            plural: "tenants",
            name: tenant,
            body: { spec: { suspend: true } },
            dryRun: "All",
          },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        );
        return false;
      } catch (error) {
        return String((error as Error).message);
      }
    });
    expect(refusal).toMatch(/Tenant objects come from git: change tenants\/st-\w+\.yaml/);
    expect(refusal).toContain("refused for neurallog-test-admin");
    expect((await readTenant()).metadata?.generation).toBe(1);
  });

  it("follows the story: backup pending, a backup recorded, quota at 96%, an out-of-band edit and back", async () => {
    await controller();
    const pending = await waitForConditions("the first status (backup pending)", {
      Ready: "Unknown BackupPending",
      BackupHealthy: "Unknown BackupPending",
      QuotaHealthy: "True QuotaWithinLimits",
      InSync: "True NoDrift",
    });
    expect(pending.status).toMatchObject({ observedGeneration: 1, phase: "Active", plan: "small" });
    expect(conditionsOf(pending).Ready!.observedGeneration).toBe(1);

    // A backup Job succeeded: what the CronJob controller records.
    const batch = kc.makeApiClient(BatchV1Api);
    const succeeded = new Date(Math.floor(Date.now() / 1000) * 1000);
    await batch.patchNamespacedCronJobStatus(
      { name: `${tenant}-backup`, namespace, body: { status: { lastSuccessfulTime: succeeded } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const healthy = await waitForConditions("BackupHealthy after a recorded backup", {
      Ready: "True AllHealthy",
      BackupHealthy: "True BackupSucceeded",
    });
    expect(healthy.status?.lastBackup).toEqual({ time: succeeded.toISOString().replace(/\.\d+Z$/, "Z") });
    const insyncSince = conditionsOf(healthy).InSync!.lastTransitionTime;

    // Quota pushed to 96% (24 of 25 ConfigMaps; the root CA's counts too).
    await waitFor("kube-root-ca.crt", 20_000, async () =>
      core.readNamespacedConfigMap({ name: "kube-root-ca.crt", namespace }).catch(() => undefined),
    );
    const used = await waitFor("quota status", 20_000, async () => {
      const quota = await core.readNamespacedResourceQuota({ name: "neurallog-quota", namespace });
      return quota.status?.used?.configmaps;
    });
    const fill = 24 - Number(used);
    for (let i = 0; i < fill; i++)
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: `filler-${i}` } } });
    const full = await waitForConditions("QuotaHealthy=False at 96%", {
      QuotaHealthy: "False QuotaNearLimit",
      Ready: "False QuotaNearLimit",
    });
    expect(full.status?.quota?.highest).toBe("96% configmaps");
    expect(conditionsOf(full).QuotaHealthy!.message).toBe(
      "95% or more used: configmaps 24/25 (quota neurallog-quota)",
    );
    for (let i = 0; i < fill; i++) await core.deleteNamespacedConfigMap({ name: `filler-${i}`, namespace });
    await waitForConditions("QuotaHealthy back", {
      QuotaHealthy: "True QuotaWithinLimits",
      Ready: "True AllHealthy",
    });

    // An out-of-band edit, the way someone with kubectl makes it, then reverted.
    const edit = (pods: string) =>
      core.patchNamespacedResourceQuota(
        {
          name: "neurallog-quota",
          namespace,
          body: { spec: { hard: { pods } } },
          fieldManager: "someone-with-kubectl",
        },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
    const quota = await core.readNamespacedResourceQuota({ name: "neurallog-quota", namespace });
    const pods = quota.spec!.hard!.pods!;
    await edit("99");
    const drifted = await waitForConditions("InSync=False after the edit", {
      InSync: "False DriftDetected",
      Ready: "False DriftDetected",
    });
    expect(drifted.status?.drift).toEqual({
      count: 1,
      objects: [
        { kind: "ResourceQuota", name: "neurallog-quota", state: "different", fields: ["spec.hard.pods"] },
      ],
    });
    expect(conditionsOf(drifted).InSync!.lastTransitionTime >= insyncSince).toBe(true);
    await edit(pods);
    const back = await waitForConditions("InSync=True after the revert", {
      InSync: "True NoDrift",
      Ready: "True AllHealthy",
    });
    expect(back.status?.drift).toEqual({ count: 0, objects: [] });
  });

  it("is continued by a new leader from the stored status, without flapping a condition", async () => {
    const [first] = controllers;
    const before = await readTenant();
    const second = await controller();
    await first!.stop();
    controllers.splice(controllers.indexOf(first!), 1);
    await waitFor("the second controller leading", 20_000, async () => second.isLeader());
    // Several resync passes of the new leader (1 s each) over every tenant.
    await waitFor("the new leader's reconciles", 20_000, async () => {
      const text = await (await fetch(`http://127.0.0.1:${second.port}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith('neurallog_reconcile_total{result="success"}'));
      return line !== undefined && Number(line.split(" ")[1]) >= 3;
    });
    const after = await readTenant();
    // No flapping: every condition as the first leader left it, its transition time included. (Other fields may
    // still move with the namespace, e.g. quota use as the quota controller recounts; that the new leader writes
    // nothing for an unchanged tenant is measured by npm run bench:controller: 0 status writes after a switch.)
    expect(after.status?.conditions).toEqual(before.status?.conditions);
    expect(after.status?.observedGeneration).toBe(before.status?.observedGeneration);
  });

  it("shows the columns in kubectl get tenants -A (the built kubectl)", () => {
    const kubectl = ensureClusterBinaries(["kubernetes"]).path("kubectl");
    const out = spawnSync(kubectl, ["get", "tenants", "-A", "-l", `neurallog.io/tenant=${tenant}`], {
      encoding: "utf8",
      env: { ...process.env, KUBECONFIG: inject("kubeconfig") },
    });
    expect(out.status, out.stderr).toBe(0);
    console.log(out.stdout);
    const [header, row] = out.stdout.trimEnd().split("\n");
    expect(header!.split(/\s{2,}/)).toEqual([
      "NAMESPACE",
      "NAME",
      "PLAN",
      "PHASE",
      "READY",
      "LAST BACKUP",
      "QUOTA",
      "DRIFT",
      "AGE",
    ]);
    const cells = row!.split(/\s{2,}/);
    expect(cells.slice(0, 5)).toEqual([namespace, tenant, "small", "Active", "True"]);
    expect(cells[5]).toMatch(/^\d+[sm]/);
    expect(cells[6]).toMatch(/^\d+% /);
    expect(cells[7]).toBe("0");
  });
});
