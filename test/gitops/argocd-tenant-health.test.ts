/**
 * The Tenant health check of `argocd/argocd-cm-patch.yaml`, run by real Argo CD code: the `argocd` CLI of the test
 * cluster's Argo CD build (`argocd admin settings resource-overrides health`, the same Lua VM and health rules as
 * the application-controller), over Tenants whose status the controller's own status builder wrote from the
 * rendered acme tenant in each situation: so the Lua and the controller cannot drift apart on a reason.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { TenantObject } from "../../contracts/tenant-status.ts";
import { assessTenant } from "../../controller/reconcile/reconcile-tenant.ts";
import { tenantStatus } from "../../controller/reconcile/tenant-status.ts";
import { ARGOCD_CM_PATCH } from "../cluster/argocd/argo-cd.ts";
import { ensureClusterBinaries } from "../cluster/binaries.ts";
import {
  NOW,
  NS,
  cacheOf,
  clusterObjects,
  tenantObject,
  type ClusterObjects,
} from "../support/test-tenant.ts";

const argocd = ensureClusterBinaries(["argocd"]).path("argocd");
const work = mkdtempSync(join(tmpdir(), "nl-tenant-health-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What Argo CD says of this Tenant, in its own words (`STATUS: …` / `MESSAGE: …`). */
function health(tenant: TenantObject): { status: string; message: string } {
  const file = join(work, "tenant.yaml");
  writeFileSync(file, stringify(tenant));
  const run = spawnSync(
    argocd,
    ["admin", "settings", "resource-overrides", "health", file, "--argocd-cm-path", ARGOCD_CM_PATCH],
    {
      encoding: "utf8",
      env: { ...process.env, HOME: work },
    },
  );
  expect(run.status, run.stderr).toBe(0);
  const field = (name: string) => new RegExp(`^${name}: ?(.*)$`, "m").exec(run.stdout)?.[1] ?? "";
  return { status: field("STATUS"), message: field("MESSAGE") };
}

/** The Tenant with the status the controller writes for these cluster objects at `now`. */
function judged(objects: ClusterObjects, now = NOW): TenantObject {
  const tenant = tenantObject();
  const assessed = assessTenant(NS, cacheOf(objects), now)!;
  return { ...tenant, status: tenantStatus(assessed.status, assessed.desired, tenant, now) };
}

const withPods = (used: string, hard = "25") => {
  const objects = clusterObjects();
  objects.quota.status!.hard!.pods = hard;
  objects.quota.status!.used!.pods = used;
  return objects;
};

describe("Argo CD's health of a Tenant (argocd/argocd-cm-patch.yaml)", () => {
  it("is Progressing until the controller has judged the tenant's current generation", () => {
    expect(health(tenantObject())).toEqual({
      status: "Progressing",
      message: "waiting for the NeuralLog controller to judge this tenant",
    });
    const edited = judged(clusterObjects());
    expect(health({ ...edited, metadata: { ...edited.metadata, generation: 2 } })).toEqual({
      status: "Progressing",
      message: "waiting for the NeuralLog controller to judge generation 2",
    });
  });

  it("is Healthy when every condition holds", () => {
    expect(health(judged(clusterObjects()))).toEqual({
      status: "Healthy",
      message: "AllHealthy: backups, quota and sync are healthy",
    });
  });

  it("is Progressing while the first backup is pending", () => {
    const objects = clusterObjects();
    objects.cronJob = {
      ...objects.cronJob!,
      metadata: { ...objects.cronJob!.metadata, creationTimestamp: NOW },
      status: {},
    };
    const { status, message } = health(judged(objects));
    expect(status).toBe("Progressing");
    expect(message).toMatch(/^BackupPending: no backup yet; the first is due by 2026-11-28T/);
  });

  it("is Degraded when backups fail: stale, or never succeeded", () => {
    const stale = health(judged(clusterObjects(), new Date("2026-11-30T12:00:00Z")));
    expect(stale.status).toBe("Degraded");
    expect(stale.message).toMatch(/^BackupStale: last good backup at 2026-11-27T01:31:10Z/);
    const objects = clusterObjects();
    objects.cronJob = { ...objects.cronJob!, status: {} };
    const never = health(judged(objects));
    expect(never.status).toBe("Degraded");
    expect(never.message).toMatch(/^BackupMissing: no successful backup since the CronJob was created/);
  });

  it("is Degraded when the quota is exhausted, Healthy (saying so) when it is only near its limit", () => {
    const full = health(judged(withPods("25")));
    expect(full.status).toBe("Degraded");
    expect(full.message).toMatch(/^QuotaExhausted: at the limit: pods 25\/25/);
    const near = health(judged(withPods("24")));
    expect(near.status).toBe("Healthy");
    expect(near.message).toMatch(/^QuotaNearLimit: QuotaHealthy: 95% or more used: pods 24\/25/);
  });

  it("is Healthy with drift, naming it (Argo CD shows the object OutOfSync itself)", () => {
    const objects = clusterObjects();
    objects.quota = { ...objects.quota, spec: { hard: { ...objects.quota.spec!.hard, pods: "30" } } };
    const { status, message } = health(judged(objects));
    expect(status).toBe("Healthy");
    expect(message).toMatch(
      /^DriftDetected: InSync: changed outside git: ResourceQuota\/neurallog-quota different/,
    );
  });
});
