/**
 * What the controller found for one tenant in one reconcile (assessTenant, reconcile-tenant.ts): the judgement
 * that feeds its Events, metrics, /status, the Tenant's status (tenant-status.ts) and `neurallog status`. A
 * module of its own so that the status writer, which reconcile uses, need not import reconcile.
 */
import type { BackupHealth } from "./backup-health.ts";
import type { DriftFinding } from "./drift.ts";
import type { OvercommitFinding } from "./overcommit.ts";
import type { QuotaRejection, QuotaUsage } from "./quota-usage.ts";

export interface TenantStatus {
  readonly tenant: string;
  readonly namespace: string;
  readonly observedAt: string;
  readonly desiredState: { readonly state: "ok" | "missing" | "invalid"; readonly detail?: string };
  readonly drift: readonly DriftFinding[];
  readonly quota: readonly QuotaUsage[];
  readonly rejectedPods: readonly QuotaRejection[];
  readonly overcommit: readonly OvercommitFinding[];
  readonly backup?: BackupHealth;
  /** Objects restored in this reconcile (self-heal mode). */
  readonly corrected: readonly string[];
}
