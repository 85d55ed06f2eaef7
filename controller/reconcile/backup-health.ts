/**
 * Backup health seen from the cluster. In-cluster the controller cannot read the tenant's backup volume, so it
 * judges by the backup CronJob: the time of its last successful Job against the schedule. No success within
 * 2× the schedule interval is stale. A CronJob that never succeeded is pending while its first run may still
 * succeed (one interval after its creation, plus the grace Kubernetes gives a run: `firstSuccessGraceMs`), and
 * never-succeeded after that: a tenant without any backup is not "healthy, last good backup 0m ago". The backup
 * Job succeeds only after a verified snapshot is on disk, so this agrees with the store's own
 * view (backup/stored-backup-health.ts, which also knows the size, for whoever can read the store).
 */
import type { V1CronJob } from "@kubernetes/client-node";
import { CronExpressionParser } from "cron-parser";
import { toMillis } from "./quota-usage.ts";

export const STALE_AFTER_INTERVALS = 2;

export type BackupState =
  | "healthy"
  | "pending"
  | "stale"
  | "never-succeeded"
  | "missing"
  | "disabled"
  | "suspended"
  | "invalid-schedule";

export interface BackupHealth {
  readonly state: BackupState;
  readonly cronJob?: string;
  readonly schedule?: string;
  readonly lastSuccess?: string;
  /** Seconds since the last success; absent when there never was one. */
  readonly ageSeconds?: number;
  /** When the CronJob never succeeded: the time by which its first success is due (pending until then). */
  readonly firstSuccessDue?: string;
  readonly intervalSeconds?: number;
  /** Why the state is what it is, for Events and /status. */
  readonly detail: string;
}

/**
 * The schedule's interval around `now`: the gap between the two most recent runs. For irregular schedules
 * (weekdays only) this is the gap the tenant is in right now, which is the one that matters for "is it late".
 *
 * cron-parser walks the calendar (≈ 1 ms per call here), and every reconcile asks: the answer is kept until the
 * schedule's next run, when it can change.
 */
export function scheduleIntervalMs(schedule: string, timeZone: string | undefined, now: Date): number {
  const key = `${schedule}\u0000${timeZone ?? ""}`;
  const cached = intervals.get(key);
  const at = now.getTime();
  if (cached && cached.from <= at && at < cached.until) return cached.intervalMs;
  const options = { currentDate: now, ...(timeZone ? { tz: timeZone } : {}) };
  const back = CronExpressionParser.parse(schedule, options);
  const last = back.prev().getTime();
  const before = back.prev().getTime();
  const until = CronExpressionParser.parse(schedule, options).next().getTime();
  if (intervals.size >= MAX_CACHED_SCHEDULES) intervals.clear();
  intervals.set(key, { intervalMs: last - before, from: last, until });
  return last - before;
}

const MAX_CACHED_SCHEDULES = 10_000;
const intervals = new Map<string, { intervalMs: number; from: number; until: number }>();

export function backupHealth(options: {
  readonly enabled: boolean;
  readonly suspended: boolean;
  readonly cronJobName: string;
  readonly cronJob: V1CronJob | undefined;
  readonly now: Date;
}): BackupHealth {
  const { cronJob, cronJobName, now } = options;
  if (!options.enabled) return { state: "disabled", detail: "backups are disabled for this tenant" };
  if (options.suspended) return { state: "suspended", detail: "the tenant is suspended; backups are paused" };
  if (!cronJob) {
    return { state: "missing", cronJob: cronJobName, detail: `backup CronJob ${cronJobName} does not exist` };
  }
  const schedule = cronJob.spec?.schedule ?? "";
  const base = { cronJob: cronJobName, schedule };
  if (cronJob.spec?.suspend) {
    return { state: "suspended", ...base, detail: `backup CronJob ${cronJobName} is suspended` };
  }
  let intervalMs: number;
  try {
    intervalMs = scheduleIntervalMs(schedule, cronJob.spec?.timeZone, now);
  } catch (error) {
    return {
      state: "invalid-schedule",
      ...base,
      detail: `schedule "${schedule}": ${(error as Error).message}`,
    };
  }
  const intervalSeconds = Math.round(intervalMs / 1000);
  const lastSuccess = toMillis(cronJob.status?.lastSuccessfulTime);
  if (lastSuccess === undefined) {
    const created = toMillis(cronJob.metadata?.creationTimestamp) ?? now.getTime();
    const due = created + intervalMs + firstSuccessGraceMs(cronJob, intervalMs);
    const first = { ...base, intervalSeconds, firstSuccessDue: new Date(due).toISOString() };
    const createdAgo = formatAge(Math.max(0, now.getTime() - created));
    if (now.getTime() <= due) {
      return {
        state: "pending",
        ...first,
        detail: `no backup yet: the CronJob was created ${createdAgo} ago, its first success is due by ${first.firstSuccessDue}`,
      };
    }
    return {
      state: "never-succeeded",
      ...first,
      detail: `no successful backup since the CronJob was created ${createdAgo} ago (first success was due by ${first.firstSuccessDue}, schedule "${schedule}")`,
    };
  }
  const ageMs = Math.max(0, now.getTime() - lastSuccess);
  const health = {
    ...base,
    lastSuccess: new Date(lastSuccess).toISOString(),
    ageSeconds: Math.round(ageMs / 1000),
    intervalSeconds,
  };
  if (ageMs <= STALE_AFTER_INTERVALS * intervalMs) {
    return { state: "healthy", ...health, detail: `last good backup ${formatAge(ageMs)} ago` };
  }
  return {
    state: "stale",
    ...health,
    detail: `last good backup ${formatAge(ageMs)} ago, more than ${STALE_AFTER_INTERVALS}× the schedule interval (${formatAge(intervalMs)}, "${schedule}")`,
  };
}

/**
 * How long after its slot a first run may still end in success: Kubernetes may start it up to the CronJob's
 * `startingDeadlineSeconds` late and lets it (retries included) run up to the Job's `activeDeadlineSeconds`
 * (synth renders 10 min and 1 h). Never more than one interval, so a tenant that never had a backup is not judged
 * more leniently than one whose backups stopped (stale after 2× the interval); without either deadline the
 * run is unbounded and the grace is that one interval.
 */
export function firstSuccessGraceMs(cronJob: V1CronJob, intervalMs: number): number {
  const starting = cronJob.spec?.startingDeadlineSeconds;
  const active = cronJob.spec?.jobTemplate?.spec?.activeDeadlineSeconds;
  if (starting === undefined || active === undefined) return intervalMs;
  return Math.min(intervalMs, (starting + active) * 1000);
}

export function formatAge(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${minutes % 60 ? `${minutes % 60}m` : ""}`;
  return `${Math.floor(hours / 24)}d${hours % 24 ? `${hours % 24}h` : ""}`;
}
