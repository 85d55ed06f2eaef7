/**
 * `neurallog status` as an operator runs it: the real bin in a child process with the test cluster's kubeconfig,
 * against a tenant rendered by synth and applied as Argo CD would, then edited by hand.
 */
import { execFile } from "node:child_process";
import { CoreV1Api, type KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { tenantObjects } from "../../charts-src/charts/tenant-chart.ts";
import { resolvePlatform, resolveTenant } from "../../charts-src/model/resolve.ts";
import type { PlatformFile, TenantFile } from "../../charts-src/model/tenant-schema.ts";
import type { TenantStatus } from "../../controller/reconcile/reconcile-tenant.ts";
import { applyManifests } from "../../test/cluster/apply-manifests.ts";
import { clusterKubeConfig, uniqueName } from "../../test/cluster/cluster-access.ts";

const BIN = new URL("../../bin/neurallog.ts", import.meta.url).pathname;
const kc = clusterKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const platformFile = parse(
  readFileSync(new URL("../../tenants/_platform.yaml", import.meta.url), "utf8"),
) as PlatformFile;
const tenant = uniqueName("st");
const namespace = `nl-${tenant}`;

function neurallog(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  const file = {
    apiVersion: "neurallog.io/v1alpha1",
    kind: "Tenant",
    metadata: { name: tenant },
    spec: { plan: "small", owners: [{ kind: "Group", name: "status-tests" }] },
  } as TenantFile;
  const objects = tenantObjects(
    resolveTenant(file, platformFile),
    resolvePlatform(platformFile),
  ) as (KubernetesObject & Record<string, unknown>)[];
  // What the controller judges (no workloads: nothing here schedules pods).
  const wanted = [
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "NetworkPolicy",
    "RoleBinding",
    "CronJob",
    "ConfigMap",
  ];
  const selected = objects.filter((o) => wanted.includes(o.kind!));
  selected.sort((a, b) => (a.kind === "Namespace" ? -1 : b.kind === "Namespace" ? 1 : 0));
  await applyManifests(kc, selected, { fieldManager: "argocd-stand-in" });
  // A hand edit: the quota's pod count raised beside git.
  const quota = await core.readNamespacedResourceQuota({ name: "neurallog-quota", namespace });
  quota.spec!.hard = { ...quota.spec!.hard, pods: "99" };
  await core.replaceNamespacedResourceQuota({ name: "neurallog-quota", namespace, body: quota });
  // The quota controller counts the namespace's ConfigMaps (three rendered, kube-root-ca.crt) a moment later.
  await vi.waitFor(
    async () => {
      const live = await core.readNamespacedResourceQuota({ name: "neurallog-quota", namespace });
      if (live.status?.used?.configmaps !== "4" || live.status?.hard?.pods !== "99")
        throw new Error(`quota status ${JSON.stringify(live.status)}`);
    },
    { timeout: 60_000, interval: 500 },
  );
}, 120_000);

afterAll(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

describe("neurallog status", () => {
  it("lists the tenant with its drift and a backup that is still pending", async () => {
    const { code, stdout, stderr } = await neurallog(["status", "--kubeconfig", inject("kubeconfig")]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const [header, ...rows] = stdout.trimEnd().split("\n");
    expect(header!.split(/\s{2,}/)).toEqual([
      "TENANT",
      "NAMESPACE",
      "HEALTH",
      "DRIFT",
      "QUOTA",
      "BACKUP",
      "REJECTED",
    ]);
    const mine = rows.find((r) => r.startsWith(`${tenant} `));
    expect(mine?.split(/\s{2,}/)).toEqual([
      tenant,
      namespace,
      "1 warnings",
      "1 objects",
      "20% configmaps",
      "pending",
      "0",
    ]);
  });

  it("spells out one tenant's findings in the controller's words, and gives its /status JSON with -o json", async () => {
    const one = await neurallog(["status", tenant, "--kubeconfig", inject("kubeconfig")]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain(
      "warning DriftDetected: ResourceQuota neurallog-quota differs from the desired state in spec.hard.pods",
    );
    expect(one.stdout).toMatch(/^backup: no backup yet: the CronJob was created \d+m ago/m);
    expect(one.stdout).toContain("quota neurallog-quota pods: 0/99 (ok)");

    const json = await neurallog(["status", tenant, "-o", "json", "--kubeconfig", inject("kubeconfig")]);
    const status = JSON.parse(json.stdout) as TenantStatus;
    expect(status).toMatchObject({ tenant, namespace, desiredState: { state: "ok" } });
    expect(status.drift).toEqual([
      {
        kind: "ResourceQuota",
        name: "neurallog-quota",
        state: "different",
        fields: ["spec.hard.pods"],
        extraFields: [],
      },
    ]);
    expect(status.backup?.state).toBe("pending");
  });

  it("refuses an unknown tenant and a missing kubeconfig with a clear message", async () => {
    const unknown = await neurallog(["status", "no-such-tenant", "--kubeconfig", inject("kubeconfig")]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(
      "no tenant no-such-tenant: no namespace carries neurallog.io/tenant=no-such-tenant",
    );
    const noConfig = await neurallog(["status", "--kubeconfig", "/nonexistent/kubeconfig"]);
    expect(noConfig.code).toBe(1);
    expect(noConfig.stderr).toContain("cannot load the kubeconfig");
  });
});
