/**
 * Execution history of a rule (fired, re-alerted, resolved, as the scripts record them) and the delivery log of the
 * actions (every webhook / Slack / pub-sub attempt, as the action worker records it).
 */
import type { Redis } from "ioredis";
import type { RuleKeys } from "./keys.ts";

export interface RuleEvent {
  readonly at: number;
  readonly event: "fired" | "realerted" | "resolved";
  readonly alertId: string;
  readonly value?: string;
  readonly reason: string;
}

export interface DeliveryRecord {
  readonly at: number;
  readonly jobId: string;
  readonly alertId: string;
  readonly ruleId: string;
  readonly event: string;
  readonly action: string;
  readonly target: string;
  readonly attempt: number;
  readonly ok: boolean;
  readonly status?: number;
  readonly error?: string;
  readonly durationMs: number;
}

function fieldsOf(raw: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) out[raw[i]!] = raw[i + 1]!;
  return out;
}

export async function ruleEvents(
  redis: Redis,
  keys: RuleKeys,
  ruleId: string,
  limit = 100,
): Promise<RuleEvent[]> {
  const rows = await redis.xrevrange(keys.ruleHistory(ruleId), "+", "-", "COUNT", limit);
  return rows.map(([, raw]) => {
    const f = fieldsOf(raw);
    return {
      at: Number(f.at),
      event: f.event as RuleEvent["event"],
      alertId: f.alert ?? "",
      ...(f.value ? { value: f.value } : {}),
      reason: f.reason ?? "",
    };
  });
}

/** Newest first; filtered by alert or rule, scanning at most the newest `scan` records. */
export async function deliveries(
  redis: Redis,
  keys: RuleKeys,
  filter: { alertId?: string; ruleId?: string },
  limit = 100,
  scan = 5_000,
): Promise<DeliveryRecord[]> {
  const rows = await redis.xrevrange(keys.deliveries, "+", "-", "COUNT", scan);
  const out: DeliveryRecord[] = [];
  for (const [id, raw] of rows) {
    const f = fieldsOf(raw);
    if (filter.alertId !== undefined && f.alert !== filter.alertId) continue;
    if (filter.ruleId !== undefined && f.rule !== filter.ruleId) continue;
    out.push({
      at: Number(id.split("-")[0]),
      jobId: f.job ?? "",
      alertId: f.alert ?? "",
      ruleId: f.rule ?? "",
      event: f.event ?? "",
      action: f.action ?? "",
      target: f.target ?? "",
      attempt: Number(f.attempt),
      ok: f.ok === "1",
      ...(f.status ? { status: Number(f.status) } : {}),
      ...(f.error ? { error: f.error } : {}),
      durationMs: Number(f.ms),
    });
    if (out.length >= limit) break;
  }
  return out;
}
