/**
 * The metric evaluator's definitions, over an in-memory log source shaped like `queryLogs` (newest first, pages,
 * the filter's time range applied): Loki's window (t - range, t] at its exact edges, a step without logs having
 * no sample, `sum by` grouped while reading, and the bound on series × steps.
 */
import { describe, expect, it } from "vitest";
import type { StoredLogEntry } from "../logs/log-entry.ts";
import type { LogQuery } from "../query/query-logs.ts";
import { evalMetric, evaluationSteps } from "./logql-eval.ts";
import type { MetricExpr } from "./logql-ast.ts";
import { LokiLimitError, type LogSearch } from "./log-scan.ts";
import { parseLogql } from "./logql-parser.ts";

function source(entries: StoredLogEntry[]): LogSearch {
  const newestFirst = [...entries].reverse();
  return async (query: LogQuery) => {
    const matching = newestFirst.filter(
      (e) =>
        (query.from === undefined || e.timestamp >= query.from) &&
        (query.to === undefined || e.timestamp < query.to) &&
        (query.source === undefined || e.source === query.source),
    );
    const start = query.cursor ? Number(query.cursor) : 0;
    const page = matching.slice(start, start + (query.limit ?? 100));
    const next = start + page.length;
    return next < matching.length ? { entries: page, nextCursor: String(next) } : { entries: page };
  };
}

function entry(n: number, timestamp: number, fields: StoredLogEntry["fields"] = {}): StoredLogEntry {
  return { id: `${n}-0`, timestamp, level: "info", source: "api", message: `line ${n}`, fields };
}

const metric = (query: string) => parseLogql(query) as MetricExpr;

describe("metric evaluation", () => {
  it("a window at step t holds (t - range, t]: a log at t counts, a log at t - range does not", async () => {
    const logs = [entry(1, 60_000), entry(2, 120_000), entry(3, 120_001)];
    const steps = evaluationSteps(60_000, 180_000, 60_000);
    const value = await evalMetric(
      source(logs),
      metric(`sum(count_over_time({service_name="api"}[1m]))`),
      steps,
      {
        scanned: 0,
        bytes: 0,
      },
    );
    expect(value).toEqual({ kind: "vector", series: [{ metric: {}, values: [1, 1, 1] }] });
    const later = await evalMetric(
      source(logs),
      metric(`sum(count_over_time({service_name="api"}[1m]))`),
      evaluationSteps(240_000, 300_000, 60_000),
      { scanned: 0, bytes: 0 },
    );
    // No log in the windows: no sample, not a zero.
    expect(later).toEqual({ kind: "vector", series: [] });
  });

  it("bounds series × steps, unless sum by groups the series while reading", async () => {
    const logs = Array.from({ length: 1000 }, (_, i) => entry(i, 1_000_000 + i, { req: `r${i}` }));
    const steps = evaluationSteps(1_000_000, 1_000_000 + 10_999_000, 1000);
    expect(steps).toHaveLength(11_000);
    await expect(
      evalMetric(source(logs), metric(`count_over_time({service_name="api"}[1s])`), steps, {
        scanned: 0,
        bytes: 0,
      }),
    ).rejects.toThrow(
      new LokiLimitError(
        "the query needs more than 5,500,000 points (500 series × 11,000 steps); use a larger step or aggregate with sum by (...)",
      ),
    );
    const summed = await evalMetric(
      source(logs),
      metric(`sum by (level) (count_over_time({service_name="api"}[1s]))`),
      steps,
      { scanned: 0, bytes: 0 },
    );
    expect(summed.kind === "vector" && summed.series.map((s) => s.metric)).toEqual([{ level: "info" }]);
    // At the first step only the log at the step itself; at the next, the other 999 (all within one second).
    expect(summed.kind === "vector" && summed.series[0]!.values.slice(0, 3)).toEqual([1, 999, undefined]);
  });
});
