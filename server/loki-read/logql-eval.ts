/**
 * Runs a parsed LogQL query over stored logs. Log queries give rows (time, line, labels) newest or oldest first;
 * metric queries give series of samples at evaluation steps, the way Loki (and Prometheus) define them: a range
 * aggregation at step t covers (t - offset - range, t - offset]; a step with no log has no sample; `sum by` over a
 * range aggregation is grouped while reading, so its inner series never have to exist.
 */
import type {
  ArithmeticOp,
  Grouping,
  LogSelectorExpr,
  MetricExpr,
  RangeAggregationExpr,
  VectorAggregationExpr,
} from "./logql-ast.ts";
import { compilePipeline } from "./log-pipeline.ts";
import { entryMillis, entryNanos, metricLabel, sortedObject, type LogLabels } from "./log-labels.ts";
import { LokiLimitError, scanLogs, type LogSearch, type ScanStats } from "./log-scan.ts";

/** Loki's `max_query_series`: series in one metric answer at most. */
export const MAX_SERIES = 500;
/** Series a range aggregation may build before its aggregation (memory; `sum by` is grouped while reading). */
export const MAX_INNER_SERIES = 10_000;
/** Samples one range aggregation may hold (series × steps): 500 series of 11,000 points, Loki's own maxima. */
export const MAX_QUERY_POINTS = 5_500_000;

export interface LogRow {
  /** The stored log's id (stream id). */
  readonly id: string;
  readonly ns: bigint;
  readonly ms: number;
  readonly line: string;
  readonly labels: LogLabels;
}

export interface LogQueryWindow {
  /** Inclusive, epoch ms (fractional for ns precision). */
  readonly startMs: number;
  /** Exclusive. */
  readonly endMs: number;
  readonly limit: number;
  readonly direction: "backward" | "forward";
}

/**
 * The query's newest (backward) or oldest (forward) `limit` logs by timestamp. Logs are read newest first by
 * arrival, which is not timestamp order (a push carries several streams; shippers send late), so backward keeps
 * the newest `limit` seen so far and raises the scan's lower time bound to the oldest of them: the index then
 * skips every batch that holds nothing newer, and the answer is exact. Forward reads the whole range (bounded by
 * the scan limit) to know the oldest.
 */
export async function evalLogQuery(
  search: LogSearch,
  expr: LogSelectorExpr,
  window: LogQueryWindow,
  stats: ScanStats,
): Promise<LogRow[]> {
  const pipeline = compilePipeline(expr);
  const rows: LogRow[] = [];
  const range = { fromMs: window.startMs, toMs: window.endMs };
  const backward = window.direction === "backward";
  const trim = (): void => {
    if (backward) {
      rows.sort(newestFirst);
      rows.length = Math.min(rows.length, window.limit);
      if (rows.length === window.limit)
        range.fromMs = Math.max(range.fromMs, Math.floor(rows[rows.length - 1]!.ms));
    } else {
      rows.sort(oldestFirst);
      rows.length = Math.min(rows.length, window.limit);
    }
  };
  for await (const entry of scanLogs(search, expr, range, stats)) {
    const ms = entryMillis(entry);
    if (ms < range.fromMs || ms >= window.endMs) continue;
    stats.bytes += Buffer.byteLength(entry.message);
    const result = pipeline(entry);
    if (!result) continue;
    rows.push({ id: entry.id, ns: entryNanos(entry), ms, line: result.line, labels: result.labels });
    if (rows.length === window.limit || rows.length >= window.limit * 2 + 1000) trim();
  }
  trim();
  return rows;
}

const newestFirst = (a: LogRow, b: LogRow): number => (a.ns < b.ns ? 1 : a.ns > b.ns ? -1 : 0);
const oldestFirst = (a: LogRow, b: LogRow): number => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0);

/** Evaluation times of a metric query, epoch ms: start, start + step, ... up to end inclusive. */
export function evaluationSteps(startMs: number, endMs: number, stepMs: number): number[] {
  const steps: number[] = [];
  for (let t = startMs; t <= endMs; t += stepMs) steps.push(t);
  return steps;
}

/** One series: its labels and a value (or none) at each evaluation step. */
export interface Series {
  readonly metric: Record<string, string>;
  readonly values: (number | undefined)[];
}

/** A metric result: series, or a plain number (`1 + 1`). */
export type MetricValue =
  | { readonly kind: "vector"; readonly series: Series[] }
  | { readonly kind: "scalar"; readonly value: number };

function seriesKey(metric: Record<string, string>): string {
  return JSON.stringify(metric);
}

function groupMetric(
  labels: (name: string) => string | undefined,
  all: Record<string, string>,
  grouping?: Grouping,
): Record<string, string> {
  if (!grouping) return {};
  if (grouping.without) {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(all)) if (!grouping.labels.includes(name)) out[name] = value;
    return out;
  }
  const picked = new Map<string, string>();
  for (const name of grouping.labels) {
    const value = labels(name);
    if (value !== undefined && value !== "") picked.set(name, value);
  }
  return sortedObject(picked);
}

interface Samples {
  readonly metric: Record<string, string>;
  readonly times: number[];
  readonly bytes: number[];
}

/**
 * A range aggregation at every step. `grouping` (from an enclosing `sum`) collapses series while reading: the sum
 * of counts (or bytes, or rates over one range) of a group is the count of the group's logs.
 */
async function evalRange(
  search: LogSearch,
  expr: RangeAggregationExpr,
  steps: readonly number[],
  stats: ScanStats,
  grouping?: Grouping,
): Promise<Series[]> {
  const pipeline = compilePipeline(expr.log);
  const first = steps[0]! - expr.offsetMs - expr.rangeMs;
  const last = steps[steps.length - 1]! - expr.offsetMs;
  const bySeries = new Map<string, Samples>();
  // Every series holds a value per step: bounded by points too, so 10,000 inner series cannot take 11,000 steps.
  const bySteps = Math.max(1, Math.floor(MAX_QUERY_POINTS / steps.length));
  const limit = Math.min(grouping ? MAX_SERIES : MAX_INNER_SERIES, bySteps);
  for await (const entry of scanLogs(search, expr.log, { fromMs: first, toMs: last + 1 }, stats)) {
    const ms = entryMillis(entry);
    if (ms <= first || ms > last) continue;
    stats.bytes += Buffer.byteLength(entry.message);
    const result = pipeline(entry);
    if (!result) continue;
    const all = result.labels.all();
    const metric = grouping ? groupMetric((n) => result.labels.get(n), all, grouping) : all;
    const key = seriesKey(metric);
    let samples = bySeries.get(key);
    if (!samples) {
      if (bySeries.size >= limit)
        throw limit === bySteps && limit < (grouping ? MAX_SERIES : MAX_INNER_SERIES)
          ? new LokiLimitError(
              `the query needs more than ${MAX_QUERY_POINTS.toLocaleString("en")} points (${limit.toLocaleString("en")} series × ${steps.length.toLocaleString("en")} steps); use a larger step or aggregate with sum by (...)`,
            )
          : seriesLimit(limit, grouping !== undefined);
      samples = { metric, times: [], bytes: [] };
      bySeries.set(key, samples);
    }
    samples.times.push(ms);
    samples.bytes.push(Buffer.byteLength(result.line));
  }
  const seconds = expr.rangeMs / 1000;
  const out: Series[] = [];
  for (const samples of bySeries.values()) {
    const order = samples.times.map((_, i) => i).sort((a, b) => samples.times[a]! - samples.times[b]!);
    const times = order.map((i) => samples.times[i]!);
    const prefixBytes = [0];
    for (const i of order) prefixBytes.push(prefixBytes[prefixBytes.length - 1]! + samples.bytes[i]!);
    const values = steps.map((t) => {
      const hi = upperBound(times, t - expr.offsetMs);
      const lo = upperBound(times, t - expr.offsetMs - expr.rangeMs);
      const count = hi - lo;
      if (count === 0) return undefined;
      const bytes = prefixBytes[hi]! - prefixBytes[lo]!;
      switch (expr.fn) {
        case "count_over_time":
          return count;
        case "rate":
          return count / seconds;
        case "bytes_over_time":
          return bytes;
        case "bytes_rate":
          return bytes / seconds;
      }
    });
    out.push({ metric: samples.metric, values });
  }
  return out;
}

/** The index of the first time greater than `t` (times sorted ascending). */
function upperBound(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function seriesLimit(limit: number, grouped: boolean): LokiLimitError {
  return new LokiLimitError(
    grouped
      ? `maximum number of series (${limit}) reached for a single query; consider reducing query cardinality by adding more specific stream selectors, reducing the time range, or aggregating by fewer labels`
      : `maximum number of series (${limit}) reached before aggregation; aggregate with sum by (...) or make the selector more specific`,
  );
}

function aggregate(expr: VectorAggregationExpr, inner: Series[], stepCount: number): Series[] {
  const groups = new Map<string, { metric: Record<string, string>; members: Series[] }>();
  for (const series of inner) {
    const metric = groupMetric((n) => metricLabel(series.metric, n), series.metric, expr.grouping);
    const key = seriesKey(metric);
    const group = groups.get(key) ?? { metric, members: [] };
    group.members.push(series);
    groups.set(key, group);
  }
  const out: Series[] = [];
  for (const { metric, members } of groups.values()) {
    if (expr.op === "topk" || expr.op === "bottomk") {
      const kept = members.map((m) => ({
        metric: m.metric,
        values: new Array<number | undefined>(stepCount).fill(undefined),
      }));
      for (let s = 0; s < stepCount; s++) {
        const present = members.map((m, i) => ({ i, v: m.values[s] })).filter((x) => x.v !== undefined) as {
          i: number;
          v: number;
        }[];
        present.sort((a, b) => (expr.op === "topk" ? b.v - a.v : a.v - b.v));
        for (const { i, v } of present.slice(0, expr.param!)) kept[i]!.values[s] = v;
      }
      out.push(...kept.filter((k) => k.values.some((v) => v !== undefined)));
      continue;
    }
    const values = new Array<number | undefined>(stepCount).fill(undefined);
    for (let s = 0; s < stepCount; s++) {
      const present = members.map((m) => m.values[s]).filter((v): v is number => v !== undefined);
      if (present.length === 0) continue;
      switch (expr.op) {
        case "sum":
          values[s] = present.reduce((a, b) => a + b, 0);
          break;
        case "count":
          values[s] = present.length;
          break;
        case "min":
          values[s] = Math.min(...present);
          break;
        case "max":
          values[s] = Math.max(...present);
          break;
        case "avg":
          values[s] = present.reduce((a, b) => a + b, 0) / present.length;
          break;
      }
    }
    out.push({ metric, values });
  }
  if (out.length > MAX_SERIES) throw seriesLimit(MAX_SERIES, true);
  return out;
}

function arithmetic(op: ArithmeticOp, a: number, b: number): number {
  switch (op) {
    case "+":
      return a + b;
    case "-":
      return a - b;
    case "*":
      return a * b;
    case "/":
      return a / b;
  }
}

function binary(op: ArithmeticOp, left: MetricValue, right: MetricValue): MetricValue {
  if (left.kind === "scalar" && right.kind === "scalar")
    return { kind: "scalar", value: arithmetic(op, left.value, right.value) };
  if (left.kind === "scalar" || right.kind === "scalar") {
    const [vector, scalar, scalarLeft] =
      left.kind === "vector"
        ? [left, (right as { value: number }).value, false]
        : [right as { series: Series[] }, left.value, true];
    return {
      kind: "vector",
      series: vector.series.map((s) => ({
        metric: s.metric,
        values: s.values.map((v) =>
          v === undefined ? undefined : scalarLeft ? arithmetic(op, scalar, v) : arithmetic(op, v, scalar),
        ),
      })),
    };
  }
  // Vector with vector: one-to-one on identical label sets (no on/ignoring: refused by the parser).
  const byKey = new Map(right.series.map((s) => [seriesKey(s.metric), s]));
  const series: Series[] = [];
  for (const l of left.series) {
    const r = byKey.get(seriesKey(l.metric));
    if (!r) continue;
    series.push({
      metric: l.metric,
      values: l.values.map((v, i) =>
        v === undefined || r.values[i] === undefined ? undefined : arithmetic(op, v, r.values[i]!),
      ),
    });
  }
  return { kind: "vector", series };
}

/** A metric expression at every step (one step for an instant query). */
export async function evalMetric(
  search: LogSearch,
  expr: MetricExpr,
  steps: readonly number[],
  stats: ScanStats,
): Promise<MetricValue> {
  switch (expr.kind) {
    case "number":
      return { kind: "scalar", value: expr.value };
    case "vector":
      return { kind: "vector", series: [{ metric: {}, values: steps.map(() => expr.value) }] };
    case "range": {
      const series = await evalRange(search, expr, steps, stats);
      if (series.length > MAX_SERIES) throw seriesLimit(MAX_SERIES, true);
      return { kind: "vector", series };
    }
    case "aggregate": {
      if (expr.op === "sum" && expr.inner.kind === "range")
        return {
          kind: "vector",
          series: await evalRange(
            search,
            expr.inner,
            steps,
            stats,
            expr.grouping ?? { without: false, labels: [] },
          ),
        };
      const inner = await evalMetric(search, expr.inner, steps, stats);
      if (inner.kind === "scalar") throw new LokiLimitError(`${expr.op} needs a vector, not a number`);
      return { kind: "vector", series: aggregate(expr, inner.series, steps.length) };
    }
    case "binary": {
      const left = await evalMetric(search, expr.left, steps, stats);
      const right = await evalMetric(search, expr.right, steps, stats);
      return binary(expr.op, left, right);
    }
  }
}
