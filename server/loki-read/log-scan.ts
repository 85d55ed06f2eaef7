/**
 * Reads the logs a selector may match, newest first, through the server's one search (`queryLogs`): the
 * selector's exact source, level and field matchers become its filter (so its index skips what cannot match),
 * the rest is matched by the compiled pipeline. Every read is bounded: a query that would examine more than
 * `maxScanned` logs is refused with a 400 saying how to narrow it, never answered from a part of its range.
 */
import { LOG_LEVELS, type LogLevel, type StoredLogEntry } from "../logs/log-entry.ts";
import type { LogFilter } from "../query/log-filter.ts";
import type { LogPage, LogQuery } from "../query/query-logs.ts";
import { tokenize } from "../storage/batch-index.ts";
import type { LogSelectorExpr } from "./logql-ast.ts";
import { LEVEL_LABEL, SOURCE_LABEL } from "./log-labels.ts";

export type LogSearch = (query: LogQuery) => Promise<LogPage>;

/** Logs examined by one request at most (by the pipeline, after the index's filter). */
export const MAX_SCANNED_LOGS = 1_000_000;
const PAGE = 1000;

/** A limit of Loki's API reached: a 400 whose text says which and what to change. */
export class LokiLimitError extends Error {}

export interface ScanStats {
  /** Logs the pipeline examined. */
  scanned: number;
  /** Bytes of their lines. */
  bytes: number;
}

/**
 * The tokens any line containing `text` holds whole: those with a non-token character on both sides inside
 * `text` (in `"connection refused by peer"`: refused, by). The ends may be parts of longer tokens of the line.
 */
export function wholeTokens(text: string): string[] {
  const tokens = tokenize(text);
  const isTokenChar = (char: string | undefined): boolean => char !== undefined && tokenize(char).length > 0;
  const from = isTokenChar(text[0]) ? 1 : 0;
  const to = tokens.length - (isTokenChar(text[text.length - 1]) ? 1 : 0);
  return tokens.slice(from, Math.max(from, to));
}

/**
 * What of a selector `queryLogs` can filter on itself: exact source, level (at least, then exact) and fields, the
 * whole tokens of the leading `|=` filters as its token search (`q`, every term must occur; the index skips
 * batches and blocks without them) and their texts as `contains` (checked in Redis, so a log without them is
 * neither sent nor decoded): a superset of the lines the filters keep, which the pipeline then matches exactly.
 */
export function prefilter(selector: Pick<LogSelectorExpr, "matchers" | "pipeline">): LogFilter {
  const { matchers } = selector;
  const terms = new Set<string>();
  const contains: string[] = [];
  for (const stage of selector.pipeline) {
    if (stage.kind !== "line") break;
    if (stage.op === "|=" && stage.values.length === 1) {
      for (const t of wholeTokens(stage.values[0]!)) terms.add(t);
      contains.push(stage.values[0]!);
    }
  }
  let source: string | undefined;
  let level: LogLevel | undefined;
  const fields: Record<string, string> = {};
  for (const m of matchers) {
    if (m.op !== "=") continue;
    if (m.name === SOURCE_LABEL || m.name === "source") source = m.value;
    else if (m.name === LEVEL_LABEL && (LOG_LEVELS as readonly string[]).includes(m.value))
      level = m.value as LogLevel;
    // A label name with `_` may stand for a dotted field (`http_status`); only plain names map back exactly.
    else if (/^[a-zA-Z][a-zA-Z0-9]*$/.test(m.name) && !ALIASES.has(m.name)) fields[m.name] = m.value;
  }
  return {
    ...(source !== undefined ? { source } : {}),
    ...(level ? { level } : {}),
    ...(Object.keys(fields).length ? { fields } : {}),
    ...(terms.size ? { q: [...terms].join(" ") } : {}),
    ...(contains.length ? { contains } : {}),
  };
}

/** Names that may mean the source (log-labels.ts): a log without such a field still matches them. */
const ALIASES = new Set(["service", "app", "application", "job", "container", "hostname", "host"]);

/**
 * Every log in [fromMs, toMs) the selector's filter admits, newest first. `bound.maxScanned` bounds the logs
 * handed to the caller; past it, a `LokiLimitError` (queries), or the end of the scan (label lists, which say
 * they list what the newest logs carry).
 */
export async function* scanLogs(
  search: LogSearch,
  selector: LogSelectorExpr,
  range: { readonly fromMs: number; readonly toMs: number },
  stats: ScanStats,
  bound: { readonly maxScanned: number; readonly atLimit: "refuse" | "stop" } = {
    maxScanned: MAX_SCANNED_LOGS,
    atLimit: "refuse",
  },
): AsyncGenerator<StoredLogEntry> {
  const { maxScanned } = bound;
  const filter: LogFilter = prefilter(selector);
  let cursor: string | undefined;
  for (;;) {
    // Read at every page: a caller may narrow the range while it reads (evalLogQuery raises fromMs).
    const page = await search({
      ...filter,
      from: Math.floor(range.fromMs),
      to: Math.ceil(range.toMs),
      limit: PAGE,
      ...(cursor ? { cursor } : {}),
    });
    for (const entry of page.entries) {
      if (++stats.scanned > maxScanned) {
        if (bound.atLimit === "stop") return;
        throw new LokiLimitError(
          `the query examines more than ${maxScanned.toLocaleString("en")} logs (the limit of one query); narrow the time range or the stream selector`,
        );
      }
      yield entry;
    }
    if (!page.nextCursor) return;
    cursor = page.nextCursor;
  }
}
