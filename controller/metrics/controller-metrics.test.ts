import { describe, expect, it } from "vitest";
import { ControllerMetrics } from "./controller-metrics.ts";
import type { TenantStatus } from "../reconcile/reconcile-tenant.ts";

const status = (overrides: Partial<TenantStatus>): TenantStatus => ({
  tenant: "acme",
  namespace: "nl-acme",
  observedAt: "2026-11-27T12:00:00.000Z",
  desiredState: { state: "ok" },
  drift: [],
  quota: [],
  rejectedPods: [],
  overcommit: [],
  corrected: [],
  ...overrides,
});

const usage = (quota: string, resource: string, ratio: number) => ({
  quota,
  resource,
  used: "x",
  hard: "y",
  ratio,
  level: "ok" as const,
});

async function series(metrics: ControllerMetrics, name: string): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return text.split("\n").filter((line) => line.startsWith(`${name}{`));
}

describe("ControllerMetrics", () => {
  it("reports the binding quota ratio, drift per kind and backup figures per tenant", async () => {
    const metrics = new ControllerMetrics();
    metrics.recordTenant(
      status({
        quota: [usage("a", "pods", 0.5), usage("b", "pods", 0.9), usage("a", "requests.cpu", 0.25)],
        drift: [{ kind: "NetworkPolicy", name: "x", state: "missing", fields: [], extraFields: [] }],
        backup: { state: "stale", ageSeconds: 200_000, detail: "" },
      }),
    );
    expect(await series(metrics, "neurallog_quota_used_ratio")).toEqual([
      'neurallog_quota_used_ratio{tenant="acme",resource="pods"} 0.9',
      'neurallog_quota_used_ratio{tenant="acme",resource="requests.cpu"} 0.25',
    ]);
    expect(await series(metrics, "neurallog_drift")).toEqual([
      'neurallog_drift{tenant="acme",kind="ResourceQuota"} 0',
      'neurallog_drift{tenant="acme",kind="LimitRange"} 0',
      'neurallog_drift{tenant="acme",kind="NetworkPolicy"} 1',
      'neurallog_drift{tenant="acme",kind="Role"} 0',
      'neurallog_drift{tenant="acme",kind="RoleBinding"} 0',
    ]);
    expect(await series(metrics, "neurallog_backup_stale")).toEqual([
      'neurallog_backup_stale{tenant="acme"} 1',
    ]);
    expect(await series(metrics, "neurallog_backup_age_seconds")).toEqual([
      'neurallog_backup_age_seconds{tenant="acme"} 200000',
    ]);
    expect(await series(metrics, "neurallog_backup_missing")).toEqual([
      'neurallog_backup_missing{tenant="acme"} 0',
    ]);
  });

  it("tells a tenant whose backups never succeeded apart: pending, then missing, and no age", async () => {
    const metrics = new ControllerMetrics();
    metrics.recordTenant(status({ backup: { state: "pending", detail: "" } }));
    expect(await series(metrics, "neurallog_backup_pending")).toEqual([
      'neurallog_backup_pending{tenant="acme"} 1',
    ]);
    expect(await series(metrics, "neurallog_backup_missing")).toEqual([
      'neurallog_backup_missing{tenant="acme"} 0',
    ]);
    expect(await series(metrics, "neurallog_backup_age_seconds")).toEqual([]);
    metrics.recordTenant(status({ backup: { state: "never-succeeded", detail: "" } }));
    expect(await series(metrics, "neurallog_backup_missing")).toEqual([
      'neurallog_backup_missing{tenant="acme"} 1',
    ]);
    expect(await series(metrics, "neurallog_backup_pending")).toEqual([
      'neurallog_backup_pending{tenant="acme"} 0',
    ]);
    expect(await series(metrics, "neurallog_backup_stale")).toEqual([
      'neurallog_backup_stale{tenant="acme"} 0',
    ]);
    metrics.forgetTenant("acme");
    expect(await series(metrics, "neurallog_backup_missing")).toEqual([]);
  });

  it("drops series that went away, and everything of a forgotten tenant", async () => {
    const metrics = new ControllerMetrics();
    metrics.recordTenant(status({ quota: [usage("a", "pods", 0.5), usage("a", "secrets", 0.1)] }));
    metrics.recordTenant(status({ quota: [usage("a", "pods", 0.6)] }));
    expect(await series(metrics, "neurallog_quota_used_ratio")).toEqual([
      'neurallog_quota_used_ratio{tenant="acme",resource="pods"} 0.6',
    ]);
    metrics.forgetAllTenants();
    for (const name of ["neurallog_quota_used_ratio", "neurallog_drift", "neurallog_quota_rejected_pods"]) {
      expect(await series(metrics, name)).toEqual([]);
    }
  });
});
