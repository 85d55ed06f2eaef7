/**
 * The Tenant object's status (contracts/tenant-status.ts), built from the same assessment as the Events and the
 * metrics (`assessTenant`), so `kubectl get tenants`, Argo CD and alerts agree with what the controller says.
 *
 * A condition's `lastTransitionTime` is kept from the stored status while its `status` stays the same: a new
 * leader starts from what the API holds (its informer's cache), not from memory, so a failover does not move it.
 * Nothing here reads the clock except a transition, so an unchanged tenant gives a status equal to the stored one
 * and the controller writes nothing (`statusDiffers`).
 */
import { isDeepStrictEqual } from "node:util";
import {
  ConditionReason,
  ConditionType,
  TenantPhase,
  type Condition,
  type TenantObject,
  type TenantStatusFields,
} from "../../contracts/tenant-status.ts";
import type { BackupHealth } from "./backup-health.ts";
import type { DesiredState } from "./desired-state.ts";
import type { TenantStatus } from "./tenant-assessment.ts";

type ConditionStatus = Condition["status"];
interface Judgement {
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
}

/** API time: RFC 3339 to the second, as metav1.Time writes it. */
const apiTime = (iso: string | undefined) => iso?.replace(/\.\d+Z$/, "Z");

const judged = (status: ConditionStatus, reason: string, message: string): Judgement => ({
  status,
  reason,
  message,
});

/** Backups, in words that do not age (no "5m ago": that would change the status every minute). */
function backupJudgement(backup: BackupHealth | undefined): Judgement {
  const R = ConditionReason;
  if (!backup) return judged("Unknown", R.DesiredStateUnavailable, "the tenant ConfigMap cannot be read");
  switch (backup.state) {
    case "healthy":
      return judged("True", R.BackupSucceeded, `last good backup at ${apiTime(backup.lastSuccess)}`);
    case "pending":
      return judged(
        "Unknown",
        R.BackupPending,
        `no backup yet; the first is due by ${apiTime(backup.firstSuccessDue)}`,
      );
    case "stale":
      return judged(
        "False",
        R.BackupStale,
        `last good backup at ${apiTime(backup.lastSuccess)}, more than 2 schedule intervals ago ("${backup.schedule}"): see the backup Jobs of CronJob ${backup.cronJob}`,
      );
    case "never-succeeded":
      return judged(
        "False",
        R.BackupMissing,
        `no successful backup since the CronJob was created; the first was due by ${apiTime(backup.firstSuccessDue)}: see the backup Jobs of CronJob ${backup.cronJob}`,
      );
    case "missing":
      return judged("False", R.BackupCronJobMissing, backup.detail);
    case "invalid-schedule":
      return judged("False", R.BackupScheduleInvalid, backup.detail);
    case "disabled":
      return judged("True", R.BackupsDisabled, backup.detail);
    case "suspended":
      return judged("True", R.BackupsSuspended, backup.detail);
  }
}

function quotaJudgement(status: TenantStatus): Judgement {
  const R = ConditionReason;
  const rejected = status.rejectedPods.reduce((n, r) => n + r.count, 0);
  const full = status.quota.filter((q) => q.ratio >= 1);
  const critical = status.quota.filter((q) => q.level === "critical");
  const uses = (list: typeof status.quota) =>
    list.map((q) => `${q.resource} ${q.used}/${q.hard} (quota ${q.quota})`).join(", ");
  if (full.length > 0 || rejected > 0) {
    const parts = [
      ...(full.length > 0 ? [`at the limit: ${uses(full)}`] : []),
      ...(rejected > 0 ? [`${rejected} pod creations refused by the quota`] : []),
    ];
    return judged(
      "False",
      R.QuotaExhausted,
      `${parts.join("; ")}: raise the quota in the tenant file or scale down`,
    );
  }
  if (critical.length > 0) return judged("False", R.QuotaNearLimit, `95% or more used: ${uses(critical)}`);
  return judged("True", R.QuotaWithinLimits, "every quota resource below 95%");
}

function syncJudgement(status: TenantStatus): Judgement {
  const R = ConditionReason;
  if (status.desiredState.state !== "ok")
    return judged("Unknown", R.DesiredStateUnavailable, status.desiredState.detail ?? "");
  if (status.drift.length === 0) return judged("True", R.NoDrift, "every object is as git defines it");
  const objects = status.drift.map((d) => `${d.kind}/${d.name} ${d.state}`).join(", ");
  return judged(
    "False",
    R.DriftDetected,
    `changed outside git: ${objects} (Argo CD's next sync, or self-heal, restores them)`,
  );
}

/** Ready: all True; else the first False (then the first Unknown) gives reason and message. */
function readyJudgement(parts: readonly [string, Judgement][]): Judgement {
  const first = (status: ConditionStatus) => parts.find(([, j]) => j.status === status);
  const blocking = first("False") ?? first("Unknown");
  if (!blocking) return judged("True", ConditionReason.AllHealthy, "backups, quota and sync are healthy");
  const [type, j] = blocking;
  return judged(j.status, j.reason, `${type}: ${j.message}`);
}

function phaseOf(tenant: TenantObject, desired: DesiredState | undefined): TenantStatusFields["phase"] {
  const resolved = desired?.state.tenant;
  if (resolved?.decommission ?? tenant.spec?.decommission) return TenantPhase.Decommissioning;
  if (resolved?.suspend ?? tenant.spec?.suspend) return TenantPhase.Suspended;
  return TenantPhase.Active;
}

/** The status the Tenant object should have now. */
export function tenantStatus(
  assessed: TenantStatus,
  desired: DesiredState | undefined,
  tenant: TenantObject,
  now: Date,
): TenantStatusFields {
  const generation = tenant.metadata?.generation ?? 0;
  const stored = new Map((tenant.status?.conditions ?? []).map((c) => [c.type, c]));
  const parts: [string, Judgement][] = [
    [ConditionType.BackupHealthy, backupJudgement(assessed.backup)],
    [ConditionType.QuotaHealthy, quotaJudgement(assessed)],
    [ConditionType.InSync, syncJudgement(assessed)],
  ];
  const condition = (type: string, j: Judgement): Condition => {
    const before = stored.get(type);
    return {
      type,
      status: j.status,
      reason: j.reason,
      message: j.message,
      lastTransitionTime:
        before && before.status === j.status ? before.lastTransitionTime : apiTime(now.toISOString())!,
      observedGeneration: generation,
    };
  };
  const highest = [...assessed.quota].sort((a, b) => b.ratio - a.ratio)[0];
  const plan = desired?.state.tenant.plan ?? tenant.spec?.plan;
  const lastSuccess = assessed.backup?.lastSuccess;
  return {
    observedGeneration: generation,
    phase: phaseOf(tenant, desired),
    ...(plan ? { plan } : {}),
    conditions: [
      condition(ConditionType.Ready, readyJudgement(parts)),
      ...parts.map(([t, j]) => condition(t, j)),
    ],
    ...(lastSuccess ? { lastBackup: { time: apiTime(lastSuccess)! } } : {}),
    quota: {
      highest: highest ? `${Math.floor(highest.ratio * 100)}% ${highest.resource}` : "-",
      resources: assessed.quota.map((q) => ({
        quota: q.quota,
        resource: q.resource,
        used: q.used,
        hard: q.hard,
        percent: Math.floor(q.ratio * 100),
      })),
    },
    drift: {
      count: assessed.drift.length,
      objects: assessed.drift.map((d) => ({
        kind: d.kind,
        name: d.name,
        state: d.state,
        ...(d.fields.length > 0 ? { fields: [...d.fields] } : {}),
      })),
    },
  };
}

/** Whether the stored status differs from `next` (what the API holds is compared, as it round-trips JSON). */
export function statusDiffers(tenant: TenantObject, next: TenantStatusFields): boolean {
  return !isDeepStrictEqual(
    JSON.parse(JSON.stringify(tenant.status ?? {})),
    JSON.parse(JSON.stringify(next)),
  );
}
