/** The log entries around one entry (by stream id), oldest first: what happened just before and after it. */
import type { Redis } from "ioredis";
import type { StoredLogEntry } from "../logs/log-entry.ts";
import { decodeEntry, entryData } from "../storage/stored-form.ts";

export const STREAM_ID = /^[0-9]{1,20}-[0-9]{1,20}$/;

function decode(rows: [string, string[]][]): StoredLogEntry[] {
  const out: StoredLogEntry[] = [];
  for (const [id, fields] of rows) {
    const data = entryData(fields);
    if (data !== undefined) out.push(decodeEntry(id, data));
  }
  return out;
}

export interface LogContext {
  readonly before: StoredLogEntry[];
  readonly entry?: StoredLogEntry;
  readonly after: StoredLogEntry[];
}

export async function logContext(
  redis: Redis,
  logsKey: string,
  id: string,
  before: number,
  after: number,
): Promise<LogContext> {
  const [older, newer] = await Promise.all([
    redis.xrevrange(logsKey, id, "-", "COUNT", before + 1),
    redis.xrange(logsKey, id, "+", "COUNT", after + 1),
  ]);
  const olderEntries = decode(older).reverse();
  const newerEntries = decode(newer);
  const entry = newerEntries[0]?.id === id ? newerEntries[0] : undefined;
  return {
    before: olderEntries.filter((e) => e.id !== id).slice(-before),
    ...(entry ? { entry } : {}),
    after: newerEntries.filter((e) => e.id !== id).slice(0, after),
  };
}
