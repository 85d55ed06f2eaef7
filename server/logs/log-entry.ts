/**
 * The normalized log entry: what every ingestion protocol produces, what storage writes, and what rules,
 * queries, live tail and MCP tools read. One shape for the whole server.
 */

import type { LogLevel } from "../../contracts/log-levels.ts";

// The levels are part of the rule contract (a rule's `level` condition), so they live in contracts/.
export { LOG_LEVELS, levelRank, type LogLevel } from "../../contracts/log-levels.ts";

/** A scalar field value after flattening (`{a: {b: 1}}` becomes `{"a.b": 1}`). */
export type FieldValue = string | number | boolean | null;

export interface LogEntry {
  /** Milliseconds since the Unix epoch (sub-millisecond precision is kept in `fields["timestamp.ns"]` when given). */
  readonly timestamp: number;
  readonly level: LogLevel;
  readonly message: string;
  /** The emitting service or source (service.name, job, app, host...); "unknown" when none is given. */
  readonly source: string;
  readonly traceId?: string;
  readonly spanId?: string;
  /** Every other attribute, flattened to dotted keys. */
  readonly fields: Readonly<Record<string, FieldValue>>;
}

/** A log entry as stored: `id` is its Redis stream id, unique and ordered per tenant. */
export interface StoredLogEntry extends LogEntry {
  readonly id: string;
}
