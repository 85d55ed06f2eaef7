/**
 * Normalization: every protocol hands its records here to become a `LogEntry`. Recognizes timestamps (ISO 8601;
 * epoch s/ms/µs/ns as numbers or strings), levels (names in any case with syslog and other aliases, pino numbers,
 * syslog numbers, OTel severity numbers), message / source / trace / span aliases, and flattens nested objects
 * to dotted field names. Limits are checked here so every protocol enforces the same ones.
 */
import type { IngestLimits } from "../config/config.ts";
import type { FieldValue, LogEntry, LogLevel } from "../logs/log-entry.ts";

/** A rejected entry: which one (as the protocol numbers them) and why, in words a client can act on. */
export class EntryError extends Error {}

const LEVEL_NAMES: Record<string, LogLevel> = {
  trace: "trace",
  verbose: "trace",
  silly: "trace",
  finest: "trace",
  debug: "debug",
  dbg: "debug",
  fine: "debug",
  info: "info",
  information: "info",
  informational: "info",
  notice: "info",
  log: "info",
  ok: "info",
  warn: "warn",
  warning: "warn",
  wrn: "warn",
  error: "error",
  err: "error",
  eror: "error",
  severe: "error",
  fatal: "fatal",
  crit: "fatal",
  critical: "fatal",
  alert: "fatal",
  emerg: "fatal",
  emergency: "fatal",
  panic: "fatal",
};

const SYSLOG_SEVERITIES: readonly LogLevel[] = [
  "fatal",
  "fatal",
  "fatal",
  "error",
  "warn",
  "info",
  "info",
  "debug",
];

/** OTel SeverityNumber 1–24: four numbers per level, TRACE..FATAL. */
export function levelFromOtelSeverity(n: number): LogLevel | undefined {
  if (!Number.isFinite(n) || n < 1 || n > 24) return undefined;
  return (["trace", "debug", "info", "warn", "error", "fatal"] as const)[Math.floor((n - 1) / 4)];
}

/** Numbers in a generic `level` field: 0–7 are syslog severities, larger ones the pino/bunyan scale (10..60). */
function levelFromNumber(n: number): LogLevel | undefined {
  if (!Number.isFinite(n) || n < 0) return undefined;
  if (n <= 7 && Number.isInteger(n)) return SYSLOG_SEVERITIES[n];
  if (n <= 10) return "trace";
  if (n <= 20) return "debug";
  if (n <= 30) return "info";
  if (n <= 40) return "warn";
  if (n <= 50) return "error";
  return "fatal";
}

/** Undefined when the value is not a level we know; the caller keeps the original in `level.original`. */
export function parseLevel(value: FieldValue | undefined): LogLevel | undefined {
  if (typeof value === "number") return levelFromNumber(value);
  if (typeof value !== "string") return undefined;
  const known = LEVEL_NAMES[value] ?? LEVEL_NAMES[value.trim().toLowerCase()];
  if (known) return known;
  const trimmed = value.trim();
  if (/^[0-9]+$/.test(trimmed)) return levelFromNumber(Number(trimmed));
  return undefined;
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
const MIN_MS = Date.UTC(1970, 0, 1);
const MAX_MS = Date.UTC(9999, 11, 31);

/** Epoch number in s/ms/µs/ns by magnitude (seconds until year 5138, then ms, µs, ns). */
function epochToMs(n: number): number {
  const abs = Math.abs(n);
  if (abs < 1e11) return n * 1000;
  if (abs < 1e14) return n;
  if (abs < 1e17) return n / 1000;
  return n / 1e6;
}

export interface ParsedTime {
  readonly ms: number;
  /** Full nanoseconds as a string when the input was more precise than a millisecond. */
  readonly ns?: string;
}

/** Undefined when the value is not a time we understand or lies outside 1970..9999. */
export function parseTimestamp(value: FieldValue | undefined): ParsedTime | undefined {
  let ms: number;
  let ns: string | undefined;
  if (typeof value === "number") {
    ms = epochToMs(value);
  } else if (typeof value === "string") {
    // Fast path for the common case, an ISO 8601 date-time (checked strictly below otherwise).
    if (
      value.length >= 19 &&
      value.charCodeAt(4) === 45 &&
      value.charCodeAt(7) === 45 &&
      value.charCodeAt(10) === 84
    ) {
      const fast = Date.parse(value);
      if (fast >= MIN_MS && fast <= MAX_MS) return { ms: Math.floor(fast) };
    }
    const text = value.trim();
    if (/^-?[0-9]+(\.[0-9]+)?$/.test(text)) {
      // Nanosecond integers exceed a double's precision: split them before converting.
      if (/^[0-9]{17,19}$/.test(text)) {
        const whole = BigInt(text);
        ms = Number(whole / 1_000_000n);
        if (whole % 1_000_000n !== 0n) ns = text;
      } else ms = epochToMs(Number(text));
    } else if (ISO_8601.test(text)) {
      ms = Date.parse(text.includes(" ") && !text.includes("T") ? text.replace(" ", "T") : text);
    } else return undefined;
  } else return undefined;
  if (!Number.isFinite(ms) || ms < MIN_MS || ms > MAX_MS) return undefined;
  return ns ? { ms: Math.floor(ms), ns } : { ms: Math.floor(ms) };
}

type Role = "timestamp" | "level" | "severityNumber" | "message" | "source" | "traceId" | "spanId";

/** Field names that carry a role, best first within each role (a worse one stays an ordinary field). */
const ROLE_ALIASES: ReadonlyArray<readonly [Role, readonly string[]]> = [
  [
    "timestamp",
    ["timestamp", "@timestamp", "time", "ts", "date", "datetime", "timeUnixNano", "time_unix_nano"],
  ],
  [
    "level",
    ["level", "severity", "severity_text", "severityText", "log.level", "levelname", "lvl", "loglevel"],
  ],
  ["severityNumber", ["severity_number", "severityNumber"]],
  ["message", ["message", "msg", "@message", "log", "text", "body", "event.original"]],
  [
    "source",
    [
      "source",
      "service.name",
      "service",
      "service_name",
      "app",
      "application",
      "job",
      "container",
      "host.name",
      "hostname",
      "host",
    ],
  ],
  ["traceId", ["trace_id", "traceId", "traceID", "trace.id", "dd.trace_id"]],
  ["spanId", ["span_id", "spanId", "spanID", "span.id", "dd.span_id"]],
];

const ROLE_OF = new Map<string, { role: Role; rank: number }>();
for (const [role, names] of ROLE_ALIASES) names.forEach((name, rank) => ROLE_OF.set(name, { role, rank }));

const MAX_DEPTH = 16;

/** What a protocol knows before generic recognition (e.g. Loki labels, OTel severityNumber). */
export interface KnownParts {
  timestamp?: ParsedTime;
  level?: LogLevel;
  message?: string;
  source?: string;
  traceId?: string;
  spanId?: string;
}

function arrayText(name: string, value: unknown[]): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    // A pathologically nested array overflows the stack: that is the client's input, not our failure.
    throw new EntryError(`field "${name}" is nested too deeply`, { cause: error });
  }
}

type RoleSlot = { rank: number; name: string; value: FieldValue };

/**
 * Flattens one record into dotted fields, setting aside the values whose names carry a role. A class rather
 * than closures: this runs for every log at ingest and must not allocate more than it keeps.
 */
class RecordWalker {
  fields: Record<string, FieldValue> = {};
  roles: Partial<Record<Role, RoleSlot>> = {};
  private count = 0;
  private readonly limits: IngestLimits;

  constructor(limits: IngestLimits) {
    this.limits = limits;
  }

  /** Starts a new record (one walker serves a whole request). */
  reset(): void {
    this.fields = {};
    this.roles = {};
    this.count = 0;
  }

  walk(object: object, prefix: string, depth: number): void {
    if (depth > MAX_DEPTH) throw new EntryError(`nested deeper than ${MAX_DEPTH} levels`);
    for (const key in object) {
      const value = (object as Record<string, unknown>)[key];
      const name = prefix ? `${prefix}.${key}` : key;
      const type = typeof value;
      if (type === "string" || type === "number" || type === "boolean" || value === null) {
        this.put(name, value as FieldValue);
      } else if (Array.isArray(value)) {
        // Arrays stay one value: their positions rarely mean anything to a query.
        this.put(name, arrayText(name, value));
      } else if (type === "object") {
        this.walk(value as object, name, depth + 1);
      }
    }
  }

  private put(name: string, value: FieldValue): void {
    const role = ROLE_OF.get(name);
    if (role) {
      const current = this.roles[role.role];
      if (!current || role.rank < current.rank) {
        if (current) this.addField(current.name, current.value);
        this.roles[role.role] = { rank: role.rank, name, value };
        return;
      }
    }
    this.addField(name, value);
  }

  addField(name: string, value: FieldValue): void {
    const limits = this.limits;
    if (name.length > limits.maxFieldNameLength) {
      throw new EntryError(
        `field name "${name.slice(0, 40)}…" exceeds ${limits.maxFieldNameLength} characters`,
      );
    }
    if (typeof value === "string" && value.length > limits.maxFieldValueLength) {
      throw new EntryError(
        `field "${name}" has ${value.length} characters, more than ${limits.maxFieldValueLength}`,
      );
    }
    if (!Object.hasOwn(this.fields, name)) {
      if (++this.count > limits.maxFields) throw new EntryError(`more than ${limits.maxFields} fields`);
    }
    if (name === "__proto__") {
      // An ordinary field, not a prototype change.
      Object.defineProperty(this.fields, name, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else this.fields[name] = value;
  }
}

/**
 * Builds entries from flat or nested records. One instance per request: it holds the limits and the receipt
 * time used for entries without a timestamp.
 */
export class EntryNormalizer {
  readonly limits: IngestLimits;
  readonly receivedMs: number;
  private readonly walker: RecordWalker;

  constructor(limits: IngestLimits, receivedMs = Date.now()) {
    this.limits = limits;
    this.receivedMs = receivedMs;
    this.walker = new RecordWalker(limits);
  }

  /**
   * `record`: the decoded object of one log (native JSON, ES document, OTel attributes merged by the caller).
   * `known`: parts the protocol already determined, which win over recognized aliases.
   * Throws EntryError for a record that cannot become a valid entry.
   */
  normalize(record: unknown, known: KnownParts = {}): LogEntry {
    if (record === null || typeof record !== "object" || Array.isArray(record)) {
      throw new EntryError(`expected a JSON object, got ${describe(record)}`);
    }
    const walker = this.walker;
    walker.reset();
    walker.walk(record, "", 0);
    const { roles } = walker;
    const addField = walker.addField.bind(walker);
    const limits = this.limits;

    let timestamp = known.timestamp;
    const rawTime = roles.timestamp;
    if (!timestamp && rawTime) {
      timestamp = parseTimestamp(rawTime.value);
      if (!timestamp)
        throw new EntryError(`${rawTime.name} ${JSON.stringify(rawTime.value)} is not a time we understand`);
    } else if (rawTime) addField(rawTime.name, rawTime.value);

    let level = known.level;
    const rawLevel = roles.level;
    const rawSeverity = roles.severityNumber;
    if (!level && rawLevel) level = parseLevel(rawLevel.value);
    if (!level && typeof rawSeverity?.value === "number") level = levelFromOtelSeverity(rawSeverity.value);
    if (rawLevel && known.level) addField(rawLevel.name, rawLevel.value);
    else if (rawLevel && !level) addField("level.original", rawLevel.value);
    if (rawSeverity) addField(rawSeverity.name, rawSeverity.value);

    const message = known.message ?? scalarText(roles.message?.value) ?? "";
    if (known.message !== undefined && roles.message) addField(roles.message.name, roles.message.value);
    if (message.length > limits.maxMessageLength) {
      throw new EntryError(`message has ${message.length} characters, more than ${limits.maxMessageLength}`);
    }
    const source = known.source ?? scalarText(roles.source?.value) ?? "unknown";
    if (known.source !== undefined && roles.source) addField(roles.source.name, roles.source.value);
    if (source.length > limits.maxFieldValueLength)
      throw new EntryError(`source exceeds ${limits.maxFieldValueLength} characters`);
    const traceId = known.traceId ?? scalarText(roles.traceId?.value);
    const spanId = known.spanId ?? scalarText(roles.spanId?.value);
    if (timestamp?.ns) addField("timestamp.ns", timestamp.ns);

    // Always the same properties in the same order: one hidden class for every entry on the hot path.
    return {
      timestamp: timestamp?.ms ?? this.receivedMs,
      level: level ?? "info",
      message,
      source: source || "unknown",
      traceId: traceId || undefined,
      spanId: spanId || undefined,
      fields: walker.fields,
    };
  }
}

function scalarText(value: FieldValue | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : String(value);
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
