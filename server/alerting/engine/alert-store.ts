/**
 * Reads and updates alert records. The rule scripts create and resolve alerts (atomically, in Redis); this module
 * lists, filters, acknowledges and silences them for the API and MCP.
 */
import type { Redis } from "ioredis";
import { Type, type Static } from "typebox";
import type { RuleKeys } from "./keys.ts";
import { decodeEntry, entryData } from "../../storage/stored-form.ts";

export const AlertSchema = Type.Object({
  id: Type.String(),
  ruleId: Type.String(),
  ruleName: Type.String(),
  ruleType: Type.String(),
  severity: Type.String(),
  status: Type.Enum(["firing", "resolved"]),
  dedupKey: Type.String(),
  group: Type.Record(Type.String(), Type.Unknown()),
  firedAt: Type.Number(),
  lastSeenAt: Type.Number(),
  resolvedAt: Type.Optional(Type.Number()),
  resolveReason: Type.Optional(Type.String()),
  value: Type.Optional(Type.String()),
  reason: Type.String(),
  exampleId: Type.Optional(Type.String({ description: "id of the first log that matched" })),
  example: Type.Optional(Type.Unknown()),
  count: Type.Number(),
  notifications: Type.Number(),
  silenced: Type.Boolean(),
  acknowledged: Type.Boolean(),
  ackedAt: Type.Optional(Type.Number()),
  ackedBy: Type.Optional(Type.String()),
});
export type Alert = Static<typeof AlertSchema>;

export const AlertFilterSchema = Type.Object({
  status: Type.Optional(Type.Enum(["firing", "resolved"])),
  ruleId: Type.Optional(Type.String({ maxLength: 100 })),
  severity: Type.Optional(Type.Enum(["info", "warning", "critical"])),
  acknowledged: Type.Optional(Type.Boolean()),
  from: Type.Optional(Type.Number({ description: "fired at or after (ms since epoch)" })),
  to: Type.Optional(Type.Number({ description: "fired at or before (ms since epoch)" })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  cursor: Type.Optional(
    Type.String({ pattern: "^[0-9]+-[0-9]+$", description: "from the previous page's nextCursor" }),
  ),
});
export type AlertFilter = Static<typeof AlertFilterSchema>;

function parseJson(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function toAlert(h: Record<string, string>): Alert | undefined {
  if (!h.id) return undefined;
  const optionalNumber = (v: string | undefined) => (v === undefined || v === "" ? undefined : Number(v));
  return {
    id: h.id,
    ruleId: h.ruleId ?? "",
    ruleName: h.ruleName ?? "",
    ruleType: h.ruleType ?? "",
    severity: h.severity ?? "warning",
    status: h.status === "resolved" ? "resolved" : "firing",
    dedupKey: h.dedupKey ?? "",
    group: (parseJson(h.group) as Record<string, unknown> | undefined) ?? {},
    firedAt: Number(h.firedAt),
    lastSeenAt: Number(h.lastSeenAt),
    resolvedAt: optionalNumber(h.resolvedAt),
    resolveReason: h.resolveReason,
    value: h.value,
    reason: h.reason ?? "",
    exampleId: h.exampleId || undefined,
    count: Number(h.count ?? 0),
    notifications: Number(h.notifications ?? 0),
    silenced: h.silenced === "1",
    acknowledged: h.ackedAt !== undefined,
    ackedAt: optionalNumber(h.ackedAt),
    ackedBy: h.ackedBy,
  };
}

export interface AlertPage {
  readonly alerts: Alert[];
  /** Pass as `cursor` for older alerts; absent on the last page. */
  readonly nextCursor?: string;
}

const EXAMPLE_MESSAGE_CHARS = 500;

export class AlertStore {
  private readonly redis: Redis;
  private readonly keys: RuleKeys;
  private readonly logsKey?: string;

  /** `logsKey`: the tenant's log stream, to show the example log of an alert (absent: only its id). */
  constructor(redis: Redis, keys: RuleKeys, logsKey?: string) {
    this.redis = redis;
    this.keys = keys;
    this.logsKey = logsKey;
  }

  async get(id: string): Promise<Alert | undefined> {
    const alert = toAlert(await this.redis.hgetall(this.keys.alert(id)));
    if (!alert?.exampleId || !this.logsKey) return alert;
    const [row] = await this.redis.xrange(this.logsKey, alert.exampleId, alert.exampleId);
    const data = row && entryData(row[1]);
    if (!data) return alert;
    const e = decodeEntry(row[0], data);
    const message =
      e.message.length > EXAMPLE_MESSAGE_CHARS
        ? `${e.message.slice(0, EXAMPLE_MESSAGE_CHARS)}…[truncated]`
        : e.message;
    return {
      ...alert,
      example: { id: e.id, timestamp: e.timestamp, level: e.level, source: e.source, message },
    };
  }

  /**
   * Newest first. Scans the fired-time index in pages and filters, bounded so one request stays cheap; the cursor
   * is the position of the last alert looked at (fired time and id: a burst fires many alerts in the same
   * millisecond), so a page cut short by the scan bound still continues where it stopped.
   */
  async list(filter: AlertFilter = {}): Promise<AlertPage> {
    const limit = filter.limit ?? 50;
    const cursor = filter.cursor ? /^([0-9]+)-([0-9]+)$/.exec(filter.cursor) : null;
    const max = cursor ? cursor[1]! : filter.to !== undefined ? String(filter.to) : "+inf";
    const min = filter.from !== undefined ? String(filter.from) : "-inf";
    const alerts: Alert[] = [];
    let offset = 0;
    let last: string | undefined;
    let exhausted = false;
    const pageSize = Math.max(limit * 2, 100);
    for (let scanned = 0; scanned < 20 && alerts.length < limit; scanned++) {
      const page = await this.redis.zrevrangebyscore(
        this.keys.alerts,
        max,
        min,
        "WITHSCORES",
        "LIMIT",
        offset,
        pageSize,
      );
      offset += page.length / 2;
      const positions: [id: string, score: string][] = [];
      for (let i = 0; i < page.length; i += 2) {
        const id = page[i]!;
        const score = page[i + 1]!;
        // Ties on the cursor's fired time come in descending member order: skip up to the cursor's alert.
        if (cursor && score === cursor[1] && id >= cursor[2]!) continue;
        positions.push([id, score]);
      }
      const pipeline = this.redis.pipeline();
      for (const [id] of positions) pipeline.hgetall(this.keys.alert(id));
      const rows = positions.length > 0 ? ((await pipeline.exec()) ?? []) : [];
      for (let i = 0; i < rows.length && alerts.length < limit; i++) {
        last = `${positions[i]![1]}-${positions[i]![0]}`;
        const alert = toAlert(rows[i]![1] as Record<string, string>);
        if (alert && matches(alert, filter)) alerts.push(alert);
      }
      if (page.length / 2 < pageSize) {
        exhausted = alerts.length < limit || last === `${page.at(-1)}-${page.at(-2)}`;
        break;
      }
    }
    return !exhausted && last ? { alerts, nextCursor: last } : { alerts };
  }

  /** Acknowledging stops re-notification of a firing alert; it still resolves normally. */
  async acknowledge(id: string, by: string, now = Date.now()): Promise<Alert | undefined> {
    const key = this.keys.alert(id);
    if (!(await this.redis.exists(key))) return undefined;
    await this.redis.hset(key, "ackedAt", String(now), "ackedBy", by);
    return this.get(id);
  }

  /** Silences a rule or one alert's dedup key until `until` (ms): alerts are still recorded, but not notified. */
  async silence(target: string, until: number): Promise<void> {
    await this.redis.hset(this.keys.silences, target, String(until));
  }

  async silences(): Promise<Record<string, number>> {
    const all = await this.redis.hgetall(this.keys.silences);
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, Number(v)]));
  }
}

function matches(alert: Alert, filter: AlertFilter): boolean {
  return (
    (filter.status === undefined || alert.status === filter.status) &&
    (filter.ruleId === undefined || alert.ruleId === filter.ruleId) &&
    (filter.severity === undefined || alert.severity === filter.severity) &&
    (filter.acknowledged === undefined || alert.acknowledged === filter.acknowledged)
  );
}
