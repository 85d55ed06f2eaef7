/**
 * Backup health seen from the cluster. In-cluster the controller cannot read the tenant's backup volume, so it
 * judges by the backup CronJob: the time of its last successful Job against the schedule. No success within
 * 2× the schedule interval (or, for a CronJob that never succeeded, within 2× the interval of its creation) is
 * stale. The backup Job succeeds only after a verified snapshot is on disk, so this agrees with the store's own
 * view (backup/stored-backup-health.ts, which also knows the size, for whoever can read the store).
 */
import type { V1CronJob } from "@kubernetes/client-node";
import { CronExpressionParser } from "cron-parser";
import { toMillis } from "./quota-usage.ts";

export const STALE_AFTER_INTERVALS = 2;

export type BackupState = "healthy" | "stale" | "missing" | "disabled" | "suspended" | "invalid-schedule";

export interface BackupHealth {
  readonly state: BackupState;
  readonly cronJob?: string;
  readonly schedule?: string;
  readonly lastSuccess?: string;
  /** Seconds since the last success (or since the CronJob was created, when it never succeeded). */
  readonly ageSeconds?: number;
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
  const lastSuccess = toMillis(cronJob.status?.lastSuccessfulTime);
  const since = lastSuccess ?? toMillis(cronJob.metadata?.creationTimestamp) ?? now.getTime();
  const ageMs = Math.max(0, now.getTime() - since);
  const health = {
    ...base,
    ...(lastSuccess !== undefined ? { lastSuccess: new Date(lastSuccess).toISOString() } : {}),
    ageSeconds: Math.round(ageMs / 1000),
    intervalSeconds: Math.round(intervalMs / 1000),
  };
  const limitMs = STALE_AFTER_INTERVALS * intervalMs;
  if (ageMs <= limitMs) {
    return { state: "healthy", ...health, detail: `last good backup ${formatAge(ageMs)} ago` };
  }
  const what =
    lastSuccess === undefined ? "no successful backup since the CronJob was created" : "last good backup";
  return {
    state: "stale",
    ...health,
    detail: `${what} ${formatAge(ageMs)} ago, more than ${STALE_AFTER_INTERVALS}× the schedule interval (${formatAge(intervalMs)}, "${schedule}")`,
  };
}

export function formatAge(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${minutes % 60 ? `${minutes % 60}m` : ""}`;
  return `${Math.floor(hours / 24)}d${hours % 24 ? `${hours % 24}h` : ""}`;
}
