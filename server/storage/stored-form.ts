/**
 * How one log is stored in the stream entry's `d` field: compact JSON with short keys (memory is the tenant's
 * Redis), decoded back into a `StoredLogEntry` with the stream id.
 */
import type { FieldValue, LogEntry, LogLevel, StoredLogEntry } from "../logs/log-entry.ts";

interface StoredForm {
  t: number;
  l: LogLevel;
  m: string;
  s: string;
  tr?: string;
  sp?: string;
  f: Record<string, FieldValue>;
}

export function encodeEntry(entry: LogEntry): string {
  const form: StoredForm = {
    t: entry.timestamp,
    l: entry.level,
    m: entry.message,
    s: entry.source,
    f: entry.fields,
  };
  if (entry.traceId) form.tr = entry.traceId;
  if (entry.spanId) form.sp = entry.spanId;
  return JSON.stringify(form);
}

export function decodeEntry(id: string, data: string): StoredLogEntry {
  const form = JSON.parse(data) as StoredForm;
  return {
    id,
    timestamp: form.t,
    level: form.l,
    message: form.m,
    source: form.s,
    traceId: form.tr || undefined,
    spanId: form.sp || undefined,
    fields: form.f ?? {},
  };
}

/** The `d` value of a raw stream entry (`[id, [field, value, ...]]`), or undefined for a foreign entry. */
export function entryData(fieldsAndValues: readonly string[]): string | undefined {
  for (let i = 0; i + 1 < fieldsAndValues.length; i += 2) {
    if (fieldsAndValues[i] === "d") return fieldsAndValues[i + 1];
  }
  return undefined;
}
