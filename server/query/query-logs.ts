/**
 * Log search, newest first, with cursor pagination. Walks the batch index stream backwards, skips batches whose
 * index rules them out, and reads the remaining batches' logs from the log stream, filtering each exactly.
 * Reused by the HTTP route, MCP tools and rule tests: one implementation of "find logs".
 */
import type { Redis } from "ioredis";
import type { StoredLogEntry } from "../logs/log-entry.ts";
import { tenantKeys } from "../storage/keys.ts";
import { decodeEntry, entryData } from "../storage/stored-form.ts";
import { batchMayMatch, compileFilter, type BatchSummary, type LogFilter } from "./log-filter.ts";

export interface LogQuery extends LogFilter {
  /** 1..1000, default 100. */
  readonly limit?: number;
  /** From a previous page's `nextCursor`. */
  readonly cursor?: string;
}

export interface LogPage {
  readonly entries: StoredLogEntry[];
  /** Present when older matches may exist; pass it back as `cursor`. */
  readonly nextCursor?: string;
}

export const MAX_LIMIT = 1000;
/** Bounds the work of one request; a sparse filter over a long history returns a cursor to continue. */
const MAX_LOGS_SCANNED = 200_000;
const INDEX_PAGE = 64;
const LOG_CHUNK = 500;

const CURSOR = /^(\d+-\d+)_(\d+-\d+)$/;

export class InvalidCursorError extends Error {}

interface Batch extends BatchSummary {
  readonly indexId: string;
  readonly first: string;
  readonly last: string;
}

function parseBatch(raw: [string, string[]]): Batch {
  const [id, kv] = raw;
  const get = (name: string): string | undefined => {
    for (let i = 0; i + 1 < kv.length; i += 2) if (kv[i] === name) return kv[i + 1];
    return undefined;
  };
  const num = (name: string): number => Number(get(name) ?? "NaN");
  return {
    indexId: id,
    first: get("f") ?? "0-0",
    last: get("l") ?? "0-0",
    minTs: num("t0"),
    maxTs: num("t1"),
    levelMask: num("lv"),
    tokensComplete: get("c") === "1",
    bloom: Buffer.from(get("b") ?? "", "base64"),
  };
}

export async function queryLogs(redis: Redis, tenant: string, query: LogQuery): Promise<LogPage> {
  const keys = tenantKeys(tenant);
  const limit = Math.min(Math.max(query.limit ?? 100, 1), MAX_LIMIT);
  const compiled = compileFilter(query);
  let indexEnd = "+";
  let logsBefore: string | undefined;
  if (query.cursor) {
    const match = CURSOR.exec(query.cursor);
    if (!match) throw new InvalidCursorError(`cursor "${query.cursor}" is not one this server issued`);
    indexEnd = match[1]!;
    logsBefore = match[2]!;
  }
  const entries: StoredLogEntry[] = [];
  let scanned = 0;
  for (;;) {
    const page = (await redis.xrevrange(keys.batches, indexEnd, "-", "COUNT", INDEX_PAGE)) as [
      string,
      string[],
    ][];
    if (page.length === 0) return { entries };
    for (const raw of page) {
      const batch = parseBatch(raw);
      const upper = logsBefore ? `(${logsBefore}` : batch.last;
      logsBefore = undefined;
      if (!batchMayMatch(compiled, batch)) continue;
      let end = upper;
      for (;;) {
        const chunk = (await redis.xrevrange(keys.logs, end, batch.first, "COUNT", LOG_CHUNK)) as [
          string,
          string[],
        ][];
        for (const [id, kv] of chunk) {
          const data = entryData(kv);
          if (data === undefined) continue;
          const entry = decodeEntry(id, data);
          if (!compiled.matches(entry)) continue;
          entries.push(entry);
          if (entries.length === limit) return { entries, nextCursor: `${batch.indexId}_${id}` };
        }
        scanned += chunk.length;
        if (chunk.length < LOG_CHUNK) break;
        end = `(${chunk[chunk.length - 1]![0]}`;
      }
      // The budget is checked between batches; "logs before the batch's first" resumes at the next batch.
      if (scanned >= MAX_LOGS_SCANNED) return { entries, nextCursor: `${batch.indexId}_${batch.first}` };
    }
    indexEnd = `(${page[page.length - 1]![0]}`;
  }
}
