/**
 * Loki's HTTP parameters, read as Loki reads them (`start`, `end`, `time`, `since`, `step`, `limit`,
 * `direction`), with its defaults and its limits. A bad or out-of-bounds parameter is a `LokiParamError`, whose
 * text is Loki's wording where Loki has one.
 */
import { LokiLimitError } from "./log-scan.ts";
import { formatDuration, parseDurationMs } from "./logql-units.ts";

export class LokiParamError extends Error {}

/** Loki's `max_entries_limit_per_query`. */
export const MAX_ENTRIES = 5000;
/** Loki's `max_query_length` (30d1h). */
export const MAX_QUERY_LENGTH_MS = 721 * 3_600_000;
/** Loki's (and Prometheus') points per series at most. */
export const MAX_POINTS = 11_000;

export type LokiParams = Readonly<Record<string, string | string[] | undefined>>;

export function single(params: LokiParams, name: string): string | undefined {
  const value = params[name];
  if (Array.isArray(value)) {
    if (value.length > 1) throw new LokiParamError(`${name} must be given once`);
    return value[0];
  }
  return value === "" ? undefined : value;
}

/**
 * Loki's timestamp forms: a float with a dot is seconds; an integer of up to 10 digits is seconds, a longer one
 * nanoseconds; else RFC 3339. Epoch milliseconds (fractional), or undefined when absent.
 */
export function lokiTime(params: LokiParams, name: string): number | undefined {
  const text = single(params, name);
  if (text === undefined) return undefined;
  if (/^-?\d+\.\d*$/.test(text)) return Number(text) * 1000;
  if (/^-?\d+$/.test(text)) {
    if (text.replace("-", "").length <= 10) return Number(text) * 1000;
    const ns = BigInt(text);
    return Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
  }
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || Number.isNaN(ms))
    throw new LokiParamError(`cannot parse "${text}" to a valid timestamp`);
  // Date.parse keeps milliseconds; RFC 3339 nanoseconds beyond them are kept as a fraction.
  const fraction = /\.(\d{4,9})/.exec(text)?.[1];
  return fraction ? ms + Number(`0.${fraction.slice(3)}`) : ms;
}

export interface TimeRange {
  readonly startMs: number;
  readonly endMs: number;
}

/** `start`/`end` (or `since`), defaulting to the last `defaultMs`, within Loki's query length. */
export function timeRange(params: LokiParams, defaultMs: number, now = Date.now()): TimeRange {
  const endMs = lokiTime(params, "end") ?? now;
  const since = single(params, "since");
  let startMs = lokiTime(params, "start");
  if (startMs === undefined) {
    const sinceMs = since === undefined ? defaultMs : parseDurationMs(since);
    if (sinceMs === undefined) throw new LokiParamError(`cannot parse "${since}" to a valid duration`);
    startMs = endMs - sinceMs;
  }
  if (endMs < startMs) throw new LokiParamError("end timestamp must not be before or equal to start time");
  if (endMs - startMs > MAX_QUERY_LENGTH_MS)
    throw new LokiLimitError(
      `the query time range exceeds the limit (query length: ${formatDuration(endMs - startMs)}, limit: ${formatDuration(MAX_QUERY_LENGTH_MS)})`,
    );
  return { startMs, endMs };
}

export function limitParam(params: LokiParams, fallback = 100): number {
  const text = single(params, "limit");
  if (text === undefined) return fallback;
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit <= 0) throw new LokiParamError("limit must be a positive value");
  if (limit > MAX_ENTRIES)
    throw new LokiLimitError(
      `max entries limit per query exceeded, limit > max_entries_limit_per_query (${limit} > ${MAX_ENTRIES})`,
    );
  return limit;
}

export function directionParam(params: LokiParams): "backward" | "forward" {
  const text = (single(params, "direction") ?? "backward").toLowerCase();
  if (text !== "backward" && text !== "forward")
    throw new LokiParamError(`invalid direction "${text}": must be forward or backward`);
  return text;
}

/** `step` as seconds (float) or a duration; Loki's default: (end - start) / 250, at least 1 s. */
export function stepParam(params: LokiParams, range: TimeRange): number {
  const text = single(params, "step");
  let stepMs: number | undefined;
  if (text === undefined)
    stepMs = Math.max(1000, Math.floor((range.endMs - range.startMs) / 250 / 1000) * 1000);
  else if (/^\d*\.?\d+$/.test(text)) stepMs = Number(text) * 1000;
  else stepMs = parseDurationMs(text);
  if (stepMs === undefined) throw new LokiParamError(`cannot parse "${text}" to a valid duration`);
  if (stepMs <= 0)
    throw new LokiParamError(
      "zero or negative query resolution step widths are not accepted. Try a positive integer",
    );
  if ((range.endMs - range.startMs) / stepMs > MAX_POINTS)
    throw new LokiLimitError(
      `exceeded maximum resolution of ${MAX_POINTS.toLocaleString("en")} points per timeseries. Try decreasing the query resolution (?step=XX)`,
    );
  return stepMs;
}

/** `match[]` (or `match`) selectors of /series, in order. */
export function matchParams(params: LokiParams): string[] {
  const raw = params["match[]"] ?? params.match;
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return list.filter((m) => m !== "");
}
