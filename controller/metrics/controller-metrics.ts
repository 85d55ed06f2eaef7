/**
 * Metric names are part of the platform's contract (alerts and dashboards use them): change them only with the
 * runbooks (docs/runbooks/).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { DRIFT_KINDS, type DriftKind } from "../reconcile/desired-state.ts";
import { highestRatioByResource } from "../reconcile/quota-usage.ts";
import type { TenantStatus } from "../reconcile/reconcile-tenant.ts";

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly #quotaUsedRatio = new Gauge({
    name: "neurallog_quota_used_ratio",
    help: "used/hard of a tenant's quota resource (the highest, when several quotas limit it)",
    labelNames: ["tenant", "resource"] as const,
    registers: [this.registry],
  });
  readonly #drift = new Gauge({
    name: "neurallog_drift",
    help: "objects of a kind that are missing, extra or different from the tenant's desired state",
    labelNames: ["tenant", "kind"] as const,
    registers: [this.registry],
  });
  readonly #backupAge = new Gauge({
    name: "neurallog_backup_age_seconds",
    help: "seconds since the tenant's last successful backup (absent while there never was one)",
    labelNames: ["tenant"] as const,
    registers: [this.registry],
  });
  readonly #backupStale = new Gauge({
    name: "neurallog_backup_stale",
    help: "1 when the tenant has no successful backup within 2x the schedule interval (or no backup CronJob)",
    labelNames: ["tenant"] as const,
    registers: [this.registry],
  });
  readonly #backupMissing = new Gauge({
    name: "neurallog_backup_missing",
    help: "1 when the tenant's backup CronJob never succeeded and its first success was due (interval + grace)",
    labelNames: ["tenant"] as const,
    registers: [this.registry],
  });
  readonly #backupPending = new Gauge({
    name: "neurallog_backup_pending",
    help: "1 while the tenant's backup CronJob never succeeded but its first success is not due yet",
    labelNames: ["tenant"] as const,
    registers: [this.registry],
  });
  readonly #rejectedPods = new Gauge({
    name: "neurallog_quota_rejected_pods",
    help: "pod creations rejected by quota in the last hour (from FailedCreate Events)",
    labelNames: ["tenant"] as const,
    registers: [this.registry],
  });
  readonly #overcommit = new Gauge({
    name: "neurallog_quota_overcommit_ratio",
    help: "workload footprint at maximum scale / quota hard limit, for resources where it exceeds 1",
    labelNames: ["tenant", "resource"] as const,
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: "neurallog_reconcile_total",
    help: "tenant reconciles by result",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: "neurallog_reconcile_duration_seconds",
    help: "time to reconcile one tenant",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly informerRestarts = new Counter({
    name: "neurallog_informer_restarts_total",
    help: "informer restarts after a list or watch error",
    labelNames: ["resource"] as const,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "neurallog_workqueue_depth",
    help: "tenant keys waiting to be reconciled",
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "neurallog_leader",
    help: "1 when this replica is the leader (the one that reconciles and writes)",
    registers: [this.registry],
  });
  /** The label values set per tenant, so the ones that went away can be removed. */
  readonly #labels = new Map<string, { resources: Set<string>; overcommit: Set<string> }>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "neurallog_controller_" });
    this.leader.set(0);
  }

  recordTenant(status: TenantStatus): void {
    const tenant = status.tenant;
    const previous = this.#labels.get(tenant) ?? { resources: new Set(), overcommit: new Set() };
    const ratios = highestRatioByResource(status.quota);
    for (const [resource, ratio] of ratios) this.#quotaUsedRatio.set({ tenant, resource }, ratio);
    for (const resource of previous.resources) {
      if (!ratios.has(resource)) this.#quotaUsedRatio.remove({ tenant, resource });
    }
    for (const kind of Object.keys(DRIFT_KINDS) as DriftKind[]) {
      this.#drift.set({ tenant, kind }, status.drift.filter((d) => d.kind === kind).length);
    }
    const backup = status.backup;
    if (backup?.ageSeconds !== undefined) this.#backupAge.set({ tenant }, backup.ageSeconds);
    else this.#backupAge.remove({ tenant });
    if (backup && backup.state !== "disabled") {
      this.#backupStale.set({ tenant }, backup.state === "stale" || backup.state === "missing" ? 1 : 0);
      this.#backupMissing.set({ tenant }, backup.state === "never-succeeded" ? 1 : 0);
      this.#backupPending.set({ tenant }, backup.state === "pending" ? 1 : 0);
    } else {
      this.#backupStale.remove({ tenant });
      this.#backupMissing.remove({ tenant });
      this.#backupPending.remove({ tenant });
    }
    this.#rejectedPods.set(
      { tenant },
      status.rejectedPods.reduce((sum, r) => sum + r.count, 0),
    );
    const overcommitted = new Set(status.overcommit.map((o) => o.resource));
    for (const o of status.overcommit) this.#overcommit.set({ tenant, resource: o.resource }, o.ratio);
    for (const resource of previous.overcommit) {
      if (!overcommitted.has(resource)) this.#overcommit.remove({ tenant, resource });
    }
    this.#labels.set(tenant, { resources: new Set(ratios.keys()), overcommit: overcommitted });
  }

  forgetTenant(tenant: string): void {
    const previous = this.#labels.get(tenant);
    if (!previous) return;
    for (const resource of previous.resources) this.#quotaUsedRatio.remove({ tenant, resource });
    for (const resource of previous.overcommit) this.#overcommit.remove({ tenant, resource });
    for (const kind of Object.keys(DRIFT_KINDS)) this.#drift.remove({ tenant, kind });
    this.#backupAge.remove({ tenant });
    this.#backupStale.remove({ tenant });
    this.#backupMissing.remove({ tenant });
    this.#backupPending.remove({ tenant });
    this.#rejectedPods.remove({ tenant });
    this.#labels.delete(tenant);
  }

  /** When this replica stops leading, its tenant figures are no longer maintained: drop them all. */
  forgetAllTenants(): void {
    for (const tenant of [...this.#labels.keys()]) this.forgetTenant(tenant);
  }
}
