/**
 * Counts per level and per source over time buckets, ready to plot: one timestamp column and one series per
 * level and per source. Read from the per-hour stats hashes the ingest script increments (see storage/keys.ts).
 */
import type { Redis } from "ioredis";
import { LOG_LEVELS, type LogLevel } from "../logs/log-entry.ts";
import { tenantKeys } from "../storage/keys.ts";

export interface StatsQuery {
  /** Epoch ms, inclusive; rounded down to the minute. */
  readonly from: number;
  /** Epoch ms, exclusive. */
  readonly to: number;
  /** Bucket width in seconds, a multiple of 60; default: the smallest that gives at most 120 buckets. */
  readonly stepSeconds?: number;
}

export interface LogStats {
  readonly from: number;
  readonly to: number;
  readonly stepSeconds: number;
  /** Bucket start times (epoch ms). */
  readonly timestamps: number[];
  readonly levels: Record<LogLevel, number[]>;
  /** The busiest sources, as many as fit in MAX_STATS_CELLS with this many buckets. */
  readonly sources: Record<string, number[]>;
  /** Sources left out of `sources` (their counts are in `levels` and `total`). */
  readonly omittedSources: number;
  readonly total: number;
}

/** A month of hourly hashes at most per request. */
export const MAX_STATS_HOURS = 24 * 31;
export const MAX_STATS_BUCKETS = 10_000;
/**
 * Source series × buckets in one answer at most (a few MB as JSON): 3,000 sources over 10,000 buckets would be
 * 30M numbers, more than the server's heap. Beyond it the sources with the fewest logs are left out.
 */
export const MAX_STATS_CELLS = 200_000;

/** A query outside the bounds: the message says which bound, for the client to fix. */
export class InvalidStatsQueryError extends Error {}

/** The one check of a stats query's bounds (REST and MCP both go through `queryStats`). */
export function statsQueryProblems(query: StatsQuery): string[] {
  const problems: string[] = [];
  const { from, to, stepSeconds } = query;
  if (!Number.isFinite(from) || !Number.isFinite(to)) problems.push("from and to must be times");
  else if (from >= to) problems.push("from must be before to");
  else if (to - from > MAX_STATS_HOURS * 3_600_000)
    problems.push(`the range may span at most ${MAX_STATS_HOURS} hours`);
  if (stepSeconds !== undefined) {
    if (!Number.isInteger(stepSeconds) || stepSeconds < 60 || stepSeconds % 60 !== 0)
      problems.push(`step=${stepSeconds} must be a multiple of 60 seconds`);
    else if ((to - from) / (stepSeconds * 1000) > MAX_STATS_BUCKETS)
      problems.push(
        `at most ${MAX_STATS_BUCKETS.toLocaleString("en")} buckets per request (use a larger step)`,
      );
  }
  return problems;
}
const STEPS = [60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

export function defaultStep(fromMs: number, toMs: number): number {
  const span = (toMs - fromMs) / 1000;
  return STEPS.find((s) => span / s <= 120) ?? 86400;
}

export async function queryStats(redis: Redis, tenant: string, query: StatsQuery): Promise<LogStats> {
  const problems = statsQueryProblems(query);
  if (problems.length) throw new InvalidStatsQueryError(problems.join("; "));
  const keys = tenantKeys(tenant);
  const step = query.stepSeconds ?? defaultStep(query.from, query.to);
  const stepMs = step * 1000;
  const from = Math.floor(query.from / stepMs) * stepMs;
  const to = query.to;
  const buckets = Math.max(0, Math.ceil((to - from) / stepMs));
  const timestamps = Array.from({ length: buckets }, (_, i) => from + i * stepMs);
  const levels = Object.fromEntries(LOG_LEVELS.map((l) => [l, new Array<number>(buckets).fill(0)])) as Record<
    LogLevel,
    number[]
  >;
  // Sparse until the busiest sources are known: only those get a dense series.
  const perSource = new Map<string, { total: number; buckets: Map<number, number> }>();
  let total = 0;
  const firstHour = Math.floor(from / 3_600_000) * 3600;
  const lastHour = Math.floor((to - 1) / 3_600_000) * 3600;
  const pipeline = redis.pipeline();
  for (let hour = firstHour; hour <= lastHour; hour += 3600) pipeline.hgetall(keys.statsHour(hour));
  const replies = (await pipeline.exec()) ?? [];
  for (const [error, hash] of replies) {
    if (error) throw new Error("reading stats failed", { cause: error });
    for (const [field, value] of Object.entries(hash as Record<string, string>)) {
      // Source names may contain "|": only the first two separate parts.
      const a = field.indexOf("|");
      const b = field.indexOf("|", a + 1);
      if (a < 0 || b < 0) continue;
      const ms = Number(field.slice(0, a)) * 60_000;
      const kind = field.slice(a + 1, b);
      const name = field.slice(b + 1);
      if (!(ms >= from && ms < to)) continue;
      const bucket = Math.floor((ms - from) / stepMs);
      const count = Number(value);
      if (kind === "l" && name in levels) {
        levels[name as LogLevel][bucket]! += count;
        total += count;
      } else if (kind === "s") {
        let source = perSource.get(name);
        if (!source) perSource.set(name, (source = { total: 0, buckets: new Map() }));
        source.total += count;
        source.buckets.set(bucket, (source.buckets.get(bucket) ?? 0) + count);
      }
    }
  }
  const kept = [...perSource]
    .sort((a, b) => b[1].total - a[1].total)
    .slice(0, Math.floor(MAX_STATS_CELLS / Math.max(1, buckets)));
  const sources: Record<string, number[]> = {};
  for (const [name, source] of kept) {
    const series = new Array<number>(buckets).fill(0);
    for (const [bucket, count] of source.buckets) series[bucket] = count;
    sources[name] = series;
  }
  const omittedSources = perSource.size - kept.length;
  return { from, to, stepSeconds: step, timestamps, levels, sources, omittedSources, total };
}
