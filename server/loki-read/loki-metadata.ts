/**
 * What Grafana's label browser, query builder and Logs Drilldown ask before they query: label names, label
 * values, series (stream label sets), index stats and volume. Source and level values come from the per-minute
 * stats hashes (`queryStats`, no log read); everything else from the logs of the range.
 */
import type { LogStats, StatsQuery } from "../query/log-stats.ts";
import type { LogSelectorExpr } from "./logql-ast.ts";
import { compilePipeline } from "./log-pipeline.ts";
import { LEVEL_LABEL, SOURCE_LABEL, entryMillis } from "./log-labels.ts";
import { scanLogs, type LogSearch, type ScanStats } from "./log-scan.ts";
import type { TimeRange } from "./loki-params.ts";

/** Label names and values are listed from the newest logs of the range, this many at most. */
export const MAX_METADATA_LOGS = 20_000;

const EVERYTHING: LogSelectorExpr = { kind: "log", matchers: [], pipeline: [] };

export interface MetadataSources {
  readonly search: LogSearch;
  readonly stats: (query: StatsQuery) => Promise<LogStats>;
}

async function* matching(
  sources: MetadataSources,
  selector: LogSelectorExpr | undefined,
  range: TimeRange,
  stats: ScanStats,
  bound?: { maxScanned: number; atLimit: "refuse" | "stop" },
) {
  const expr = selector ?? EVERYTHING;
  const pipeline = compilePipeline(expr);
  for await (const entry of scanLogs(
    sources.search,
    expr,
    { fromMs: range.startMs, toMs: range.endMs },
    stats,
    bound,
  )) {
    const ms = entryMillis(entry);
    if (ms < range.startMs || ms >= range.endMs) continue;
    const result = pipeline(entry);
    if (result) yield { entry, result };
  }
}

const SAMPLE = { maxScanned: MAX_METADATA_LOGS, atLimit: "stop" } as const;

export async function labelNames(
  sources: MetadataSources,
  selector: LogSelectorExpr | undefined,
  range: TimeRange,
): Promise<string[]> {
  const names = new Set<string>();
  for await (const { result } of matching(sources, selector, range, { scanned: 0, bytes: 0 }, SAMPLE))
    for (const name of result.labels.values.keys()) names.add(name);
  return [...names].sort();
}

/** One bucket over the whole range (whole minutes, as the stats hashes count). */
async function statsOver(sources: MetadataSources, range: TimeRange): Promise<LogStats> {
  const from = Math.floor(range.startMs / 60_000) * 60_000;
  const to = Math.max(Math.ceil(range.endMs), from + 60_000);
  const stepSeconds = Math.ceil((to - from) / 60_000) * 60;
  return sources.stats({ from, to, stepSeconds });
}

export async function labelValues(
  sources: MetadataSources,
  name: string,
  selector: LogSelectorExpr | undefined,
  range: TimeRange,
): Promise<string[]> {
  if (!selector && (name === SOURCE_LABEL || name === "source" || name === LEVEL_LABEL)) {
    const stats = await statsOver(sources, range);
    const counts = name === LEVEL_LABEL ? stats.levels : stats.sources;
    return Object.entries(counts)
      .filter(([, buckets]) => buckets.some((n) => n > 0))
      .map(([value]) => value)
      .sort();
  }
  const values = new Set<string>();
  for await (const { result } of matching(sources, selector, range, { scanned: 0, bytes: 0 }, SAMPLE)) {
    const value = result.labels.get(name);
    if (value !== undefined && value !== "") values.add(value);
  }
  return [...values].sort();
}

/** Distinct stream label sets of the logs each selector matches. */
export async function seriesOf(
  sources: MetadataSources,
  selectors: readonly LogSelectorExpr[],
  range: TimeRange,
): Promise<Record<string, string>[]> {
  const seen = new Map<string, Record<string, string>>();
  const stats = { scanned: 0, bytes: 0 };
  for (const selector of selectors) {
    for await (const { result } of matching(sources, selector, range, stats)) {
      const labels = result.labels.ofCategory("stream");
      seen.set(JSON.stringify(labels), labels);
    }
  }
  return [...seen.values()];
}

export interface IndexStats {
  streams: number;
  chunks: number;
  entries: number;
  bytes: number;
}

/** Loki's `/index/stats`: streams, entries and line bytes of the selection (a stream counts as one chunk). */
export async function indexStats(
  sources: MetadataSources,
  selector: LogSelectorExpr,
  range: TimeRange,
): Promise<IndexStats> {
  const streams = new Set<string>();
  let entries = 0;
  let bytes = 0;
  for await (const { result } of matching(sources, selector, range, { scanned: 0, bytes: 0 })) {
    streams.add(JSON.stringify(result.labels.ofCategory("stream")));
    entries++;
    bytes += Buffer.byteLength(result.line);
  }
  return { streams: streams.size, chunks: streams.size, entries, bytes };
}

export interface VolumeQuery {
  readonly targetLabels: readonly string[];
  readonly aggregateBy: "series" | "labels";
  readonly limit: number;
}

/** Loki's `/index/volume`: line bytes per stream, per target label set, or per label, largest first. */
export async function indexVolume(
  sources: MetadataSources,
  selector: LogSelectorExpr,
  range: TimeRange,
  query: VolumeQuery,
): Promise<{ metric: Record<string, string>; bytes: number }[]> {
  const volumes = new Map<string, { metric: Record<string, string>; bytes: number }>();
  const add = (metric: Record<string, string>, bytes: number): void => {
    const key = JSON.stringify(metric);
    const volume = volumes.get(key) ?? { metric, bytes: 0 };
    volume.bytes += bytes;
    volumes.set(key, volume);
  };
  const selectorNames = [...new Set(selector.matchers.map((m) => m.name))];
  for await (const { result } of matching(sources, selector, range, { scanned: 0, bytes: 0 })) {
    const bytes = Buffer.byteLength(result.line);
    if (query.targetLabels.length) {
      const metric: Record<string, string> = {};
      for (const name of query.targetLabels) {
        const value = result.labels.get(name);
        if (value !== undefined) metric[name] = value;
      }
      add(metric, bytes);
    } else if (query.aggregateBy === "labels") {
      for (const name of selectorNames) {
        const value = result.labels.get(name);
        if (value !== undefined) add({ [name]: value }, bytes);
      }
    } else add(result.labels.ofCategory("stream"), bytes);
  }
  return [...volumes.values()].sort((a, b) => b.bytes - a.bytes).slice(0, query.limit);
}
