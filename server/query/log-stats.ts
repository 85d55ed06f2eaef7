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
  readonly sources: Record<string, number[]>;
  readonly total: number;
}

/** A month of hourly hashes at most per request. */
export const MAX_STATS_HOURS = 24 * 31;
const STEPS = [60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

export function defaultStep(fromMs: number, toMs: number): number {
  const span = (toMs - fromMs) / 1000;
  return STEPS.find((s) => span / s <= 120) ?? 86400;
}

export async function queryStats(redis: Redis, tenant: string, query: StatsQuery): Promise<LogStats> {
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
  const sources: Record<string, number[]> = {};
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
        (sources[name] ??= new Array<number>(buckets).fill(0))[bucket]! += count;
      }
    }
  }
  return { from, to, stepSeconds: step, timestamps, levels, sources, total };
}
