/**
 * Log search, newest first, with cursor pagination. The batch index (held in memory by `BatchCatalog`) names the
 * logs that may match: batches and then their blocks are ruled out by time range, level mask and Bloom filter,
 * and within a block the level and source columns name the very logs of a level or source filter, all without a
 * read. The remaining ranges of logs are read in waves (one script call each, sized by the matches so far);
 * Redis checks each log's stored JSON for the filter's text and sends only those that pass, which are decoded
 * and matched exactly. Reused by the HTTP route, MCP tools and rule tests: one implementation of "find logs".
 */
import type { Redis } from "ioredis";
import { LOG_LEVELS, type StoredLogEntry } from "../logs/log-entry.ts";
import type { BlockSummary } from "../storage/batch-index.ts";
import { BlockReader } from "../storage/block-reader.ts";
import { tenantKeys } from "../storage/keys.ts";
import { parseStreamId } from "../storage/log-store.ts";
import { decodeEntry } from "../storage/stored-form.ts";
import { batchCatalog, idBefore, type BatchCatalog, type CatalogBatch } from "./batch-catalog.ts";
import { compileFilter, indexProbe, summaryMayMatch, type IndexProbe, type LogFilter } from "./log-filter.ts";

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
/**
 * Logs read in the first round trip; each further wave reads as many as the matches so far say are still needed
 * (a quarter more), twice the last while none matched, and at most LAST_WAVE logs in MAX_WAVE_RANGES ranges
 * (Redis runs one wave as one script: a few milliseconds at most, between other clients' commands).
 */
const FIRST_WAVE = 256;
const LAST_WAVE = 4096;
const MAX_WAVE_RANGES = 1024;

/**
 * A cursor is the id of the last log returned (or the first log not read, when the scan budget ended the page):
 * the next page holds older logs only, whatever was stored since. Cursors of the earlier per-batch format
 * (`<index id>_<log id>`) mean the same and are still taken.
 */
const CURSOR = /^(?:\d+-\d+_)?(\d+-\d+)$/;

export class InvalidCursorError extends Error {}

/** A range of one batch's logs (all share the batch's ms): `ms-lo` .. `ms-hi`, to read newest first. */
interface LogRange {
  readonly ms: number;
  readonly lo: number;
  readonly hi: number;
}

/**
 * The runs of logs `first`..`last` (positions in the block) that the block's columns let through, newest first;
 * the whole span when the filter names neither a level nor a source, or the block has no columns.
 */
function* columnRuns(
  block: BlockSummary,
  levelMask: number | undefined,
  source: number | undefined,
  first: number,
  last: number,
): Generator<[number, number]> {
  const { levels, sources } = block;
  const byLevel = levelMask !== undefined && levels !== undefined;
  const bySource = source !== undefined && sources !== undefined;
  if (!byLevel && !bySource) {
    yield [first, last];
    return;
  }
  let end = -1;
  for (let p = last; p >= first; p--) {
    const ok = (!byLevel || ((levelMask >> levels[p]!) & 1) === 1) && (!bySource || sources[p] === source);
    if (ok && end < 0) end = p;
    else if (!ok && end >= 0) {
      yield [p + 1, end];
      end = -1;
    }
  }
  if (end >= 0) yield [first, end];
}

/** The ranges of `batch` that may match, newest first, below `before` (exclusive) when given. */
function* batchRanges(
  batch: CatalogBatch,
  probe: IndexProbe,
  before?: [number, number],
): Generator<LogRange> {
  if (before && !idBefore([batch.ms, batch.seq], before)) return;
  if (!summaryMayMatch(probe, batch.summary)) return;
  const { filter } = probe.compiled;
  // Every level passes "at least trace": only a higher level needs the column.
  const levelMask = filter.level && filter.level !== LOG_LEVELS[0] ? probe.compiled.levelMask : undefined;
  // The batch's source list is exact: a source it does not name is in none of its logs.
  let source: number | undefined;
  if (filter.source !== undefined && batch.sources) {
    source = batch.sources.indexOf(filter.source);
    if (source < 0) return;
  }
  const end = batch.seq + batch.count - 1;
  const limit = before && before[0] === batch.ms ? Math.min(end, before[1] - 1) : end;
  for (let i = batch.blocks.length - 1; i >= 0; i--) {
    const lo = batch.seq + i * batch.blockLogs;
    if (lo > limit) continue;
    const block = batch.blocks[i]!;
    if (!summaryMayMatch(probe, block)) continue;
    const hi = Math.min(limit, lo + batch.blockLogs - 1, end);
    for (const [a, b] of columnRuns(block, levelMask, source, 0, hi - lo)) {
      yield { ms: batch.ms, lo: lo + a, hi: lo + b };
    }
  }
}

/** Every range that may match, newest first: the catalog's batches, then older ones paged from Redis. */
async function* candidateRanges(
  catalog: BatchCatalog,
  probe: IndexProbe,
  before?: [number, number],
): AsyncGenerator<LogRange> {
  const { batches, complete } = catalog.view();
  for (let i = batches.length - 1; i >= 0; i--) yield* batchRanges(batches[i]!, probe, before);
  if (complete) return;
  let older = batches[0]?.id;
  for (;;) {
    const page = await catalog.olderThan(older);
    for (const batch of page) yield* batchRanges(batch, probe, before);
    if (page.length === 0) return;
    older = page.at(-1)!.id;
  }
}

export async function queryLogs(redis: Redis, tenant: string, query: LogQuery): Promise<LogPage> {
  const keys = tenantKeys(tenant);
  const limit = Math.min(Math.max(query.limit ?? 100, 1), MAX_LIMIT);
  const compiled = compileFilter(query);
  let before: [number, number] | undefined;
  if (query.cursor) {
    const match = CURSOR.exec(query.cursor);
    if (!match) throw new InvalidCursorError(`cursor "${query.cursor}" is not one this server issued`);
    before = parseStreamId(match[1]!);
  }
  const catalog = batchCatalog(redis, tenant);
  const reader = new BlockReader(redis, keys.logs);
  await catalog.refresh();
  const candidates = candidateRanges(catalog, indexProbe(compiled), before);
  const entries: StoredLogEntry[] = [];
  let scanned = 0;
  let wave = FIRST_WAVE;
  for (;;) {
    const ranges: LogRange[] = [];
    let logs = 0;
    while (logs < wave && ranges.length < MAX_WAVE_RANGES) {
      const next = await candidates.next();
      if (next.done) break;
      ranges.push(next.value);
      logs += next.value.hi - next.value.lo + 1;
    }
    if (ranges.length === 0) return { entries };
    const read = await reader.read(
      ranges.map(({ ms, lo, hi }) => ({ from: `${ms}-${hi}`, to: `${ms}-${lo}` })),
      compiled.storedText,
    );
    scanned += read.scanned;
    for (const [id, data] of read.logs) {
      const entry = decodeEntry(id, data);
      if (!compiled.matches(entry)) continue;
      entries.push(entry);
      if (entries.length === limit) return { entries, nextCursor: id };
    }
    // The budget is checked between waves; the cursor resumes below the last range read.
    if (scanned >= MAX_LOGS_SCANNED) {
      const last = ranges.at(-1)!;
      return { entries, nextCursor: `${last.ms}-${last.lo}` };
    }
    const perLog = entries.length / Math.max(1, scanned);
    const needed = perLog > 0 ? Math.ceil(((limit - entries.length) / perLog) * 1.25) : wave * 2;
    wave = Math.max(1, Math.min(needed, LAST_WAVE));
  }
}
