/**
 * What each protocol decoder produces, and the one path every accepted batch takes to storage: append (2xx only
 * after Redis acknowledged it), then the extensions' `onIngested`, then metrics.
 */
import type { ServerContext } from "../context.ts";
import { PayloadTooLarge, ServiceUnavailable } from "../errors.ts";
import type { LogEntry, StoredLogEntry } from "../logs/log-entry.ts";
import type { IngestEndpoint } from "../ops/metrics.ts";

/** A rejected entry: its 1-based position as the protocol counts it (NDJSON line, array element...) and why. */
export interface Rejection {
  readonly entry: number;
  readonly reason: string;
}

export interface DecodedBatch {
  readonly entries: LogEntry[];
  readonly rejections: Rejection[];
}

/** Rejections listed in a response at most; the count is always complete. */
export const MAX_LISTED_REJECTIONS = 100;

export function checkBatchSize(count: number, max: number): void {
  if (count > max) throw new PayloadTooLarge(`the batch has ${count} entries, more than the limit of ${max}`);
}

export async function storeBatch(
  ctx: ServerContext,
  endpoint: IngestEndpoint,
  batch: DecodedBatch,
): Promise<StoredLogEntry[]> {
  const { metrics } = ctx;
  if (batch.rejections.length > 0)
    metrics.rejects.inc({ endpoint, reason: "invalid_entry" }, batch.rejections.length);
  if (batch.entries.length === 0) return [];
  const stop = metrics.redisDuration.startTimer({ operation: "append" });
  let stored: StoredLogEntry[];
  try {
    stored = await ctx.store.append(batch.entries);
  } catch (error) {
    metrics.rejects.inc({ endpoint, reason: "storage_unavailable" }, batch.entries.length);
    throw new ServiceUnavailable("log storage is unavailable; retry later", { cause: error });
  } finally {
    stop();
  }
  metrics.ingestedLogs.inc({ endpoint }, stored.length);
  for (const extension of ctx.extensions) {
    if (extension.onIngested) await extension.onIngested(stored);
  }
  return stored;
}
