/**
 * A stored log as Loki sees it: its line is the message; `service_name` (the source, Loki 3's name for it) and
 * `level` are its stream labels; its fields are structured metadata, named as Loki's json parser names them
 * (`http.status` → `http_status`), with `trace_id`/`span_id`. This is the push API's mapping
 * (ingest/loki-route.ts) read backwards: a stream pushed as `{service_name="api", level="error", env="prod"}`
 * reads back with those labels, and a selector may name the source by any alias the push side recognises
 * (`source`, `job`, `app`, `service`, ...) and the level as `detected_level`.
 */
import type { StoredLogEntry } from "../logs/log-entry.ts";

export const SOURCE_LABEL = "service_name";
export const LEVEL_LABEL = "level";
/** Loki's error labels, set by stages that could not do their work (here: numeric label filters). */
export const ERROR_LABEL = "__error__";
export const ERROR_DETAILS_LABEL = "__error_details__";

/** Names that mean the source when the log has no field of that name (the push side's source aliases). */
const SOURCE_ALIASES = new Set([
  "source",
  "service",
  "app",
  "application",
  "job",
  "container",
  "hostname",
  "host",
]);
const LEVEL_ALIASES = new Set(["detected_level"]);
/** Kept by ingest for exact timestamps; read back as the entry's nanosecond time, not as a label. */
const NS_FIELD = "timestamp.ns";

/** Loki label names are `[a-zA-Z_][a-zA-Z0-9_]*`; its json parser writes nested keys with `_`. */
export function labelName(field: string): string {
  const name = field.replace(/[^a-zA-Z0-9_]/g, "_");
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/** A field value as label text: the same text form the native API's `field.<name>=` filter compares. */
export function labelValue(value: unknown): string {
  return value === null ? "null" : String(value);
}

/** Where a label came from, for Loki's categorized answers (`categorize-labels`). */
export type LabelCategory = "stream" | "structuredMetadata" | "parsed";

/** A label of a series' metric by name, aliases resolved as for a log's labels. */
export function metricLabel(metric: Readonly<Record<string, string>>, name: string): string | undefined {
  if (metric[name] !== undefined) return metric[name];
  if (SOURCE_ALIASES.has(name)) return metric[SOURCE_LABEL];
  if (LEVEL_ALIASES.has(name)) return metric[LEVEL_LABEL];
  return undefined;
}

/** A log's labels while a pipeline runs over it. */
export class LogLabels {
  readonly values = new Map<string, string>();
  readonly categories = new Map<string, LabelCategory>();

  readonly entry: StoredLogEntry;

  constructor(entry: StoredLogEntry) {
    this.entry = entry;
    this.set(SOURCE_LABEL, entry.source, "stream");
    this.set(LEVEL_LABEL, entry.level, "stream");
    for (const [field, value] of Object.entries(entry.fields)) {
      if (field === NS_FIELD) continue;
      const name = labelName(field);
      // Two fields that sanitize alike (`a.b`, `a_b`): the first keeps the name, as Loki's json parser does.
      if (!this.values.has(name)) this.set(name, labelValue(value), "structuredMetadata");
    }
    if (entry.traceId && !this.values.has("trace_id"))
      this.set("trace_id", entry.traceId, "structuredMetadata");
    if (entry.spanId && !this.values.has("span_id")) this.set("span_id", entry.spanId, "structuredMetadata");
  }

  set(name: string, value: string, category: LabelCategory): void {
    this.values.set(name, value);
    this.categories.set(name, category);
  }

  delete(name: string): void {
    this.values.delete(name);
    this.categories.delete(name);
  }

  /** The value a matcher, filter or grouping names: the label itself, else what an alias stands for. */
  get(name: string): string | undefined {
    const own = this.values.get(name);
    if (own !== undefined) return own;
    if (SOURCE_ALIASES.has(name)) return this.values.get(SOURCE_LABEL);
    if (LEVEL_ALIASES.has(name)) return this.values.get(LEVEL_LABEL);
    return undefined;
  }

  /**
   * A label the stream selector names is a stream label of the answer, under the selector's name: a field
   * (`env`) moves from structured metadata to the stream, an alias (`job` for the source) is added.
   */
  adopt(name: string): void {
    const value = this.get(name);
    if (value !== undefined) this.set(name, value, "stream");
  }

  /** Every label, in one object with sorted keys (Loki's uncategorized answer and the series identity). */
  all(): Record<string, string> {
    return sortedObject(this.values);
  }

  ofCategory(category: LabelCategory): Record<string, string> {
    const picked = new Map<string, string>();
    for (const [name, value] of this.values)
      if (this.categories.get(name) === category) picked.set(name, value);
    return sortedObject(picked);
  }
}

export function sortedObject(map: ReadonlyMap<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [...map.keys()].sort()) out[name] = map.get(name)!;
  return out;
}

/** The entry's time in nanoseconds since the epoch, exact when ingest kept the nanoseconds. */
export function entryNanos(entry: StoredLogEntry): bigint {
  const ns = entry.fields[NS_FIELD];
  if (typeof ns === "string" && /^[0-9]{1,19}$/.test(ns)) return BigInt(ns);
  return BigInt(entry.timestamp) * 1_000_000n;
}

/** The entry's time in (fractional) milliseconds: what range windows compare. */
export function entryMillis(entry: StoredLogEntry): number {
  const ns = entry.fields[NS_FIELD];
  if (typeof ns === "string" && /^[0-9]{1,19}$/.test(ns)) {
    const big = BigInt(ns);
    return Number(big / 1_000_000n) + Number(big % 1_000_000n) / 1e6;
  }
  return entry.timestamp;
}
