/**
 * "What would this rule have done?": replays stored logs of a time range through the real engine and scripts, in a
 * scratch key space of the tenant that is deleted afterwards, with simulated time (each log's own timestamp, plus
 * timer sweeps between them), so flatline and resolution behave as they would have live.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { AlertStore, type Alert } from "./alert-store.ts";
import type { StoredLogEntry } from "../../logs/log-entry.ts";
import type { LogPage, LogQuery } from "../../query/query-logs.ts";
import { ruleKeysUnder } from "./keys.ts";
import { RuleEngine, ruleParams } from "./rule-engine.ts";
import type { Rule } from "../../../contracts/rules/rule-schema.ts";
import { withRuleScripts } from "./rule-state-script.ts";
import { validateRule } from "../../../contracts/rules/rule-validation.ts";

export const MAX_TEST_LOGS = 100_000;
const MAX_SWEEPS = 2_000;
const PAGE = 1_000;

export interface RuleTestOptions {
  readonly redis: Redis;
  /** `nl:{tenant}:` — the scratch keys live under it, in the tenant's hash slot. */
  readonly tenantPrefix: string;
  readonly queryLogs: (query: LogQuery) => Promise<LogPage>;
}

export interface RuleTestRequest {
  readonly rule: unknown;
  readonly from: number;
  readonly to: number;
  /** Newest logs replayed at most; default 50,000. */
  readonly maxLogs?: number;
}

export interface RuleTestResult {
  readonly rule: Rule;
  readonly from: number;
  readonly to: number;
  readonly logsEvaluated: number;
  /** True when the range held more logs than `maxLogs`; the replay then started at the oldest kept log. */
  readonly truncated: boolean;
  /** Alerts that would have fired, oldest first (with their resolution, when it happened in the range). */
  readonly alerts: Alert[];
}

async function newestLogs(options: RuleTestOptions, from: number, to: number, max: number) {
  const entries: StoredLogEntry[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await options.queryLogs({
      from,
      to,
      limit: Math.min(PAGE, max - entries.length),
      ...(cursor ? { cursor } : {}),
    });
    entries.push(...page.entries);
    cursor = page.nextCursor;
    if (!cursor || entries.length >= max) break;
  }
  return { entries: entries.reverse(), truncated: cursor !== undefined };
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== "0");
}

export async function testRule(options: RuleTestOptions, request: RuleTestRequest): Promise<RuleTestResult> {
  const { from, to } = request;
  const max = Math.min(request.maxLogs ?? 50_000, MAX_TEST_LOGS);
  const rule = { ...validateRule(request.rule, { origin: "api", now: from }), enabled: true };
  const { entries, truncated } = await newestLogs(options, from, to, max);
  const start = truncated && entries[0] ? entries[0].timestamp : from;

  const prefix = `${options.tenantPrefix}ruletest:${randomBytes(6).toString("hex")}:`;
  const keys = ruleKeysUnder(prefix);
  const engine = new RuleEngine({ redis: withRuleScripts(options.redis), keys });
  engine.setRules([rule], start);
  const { w, b } = ruleParams(rule, start);
  const sweepStep = Math.max(b, Math.ceil((to - start) / MAX_SWEEPS), Math.min(w / 4, 60_000));
  try {
    let sweptTo = start;
    const sweepUntil = async (t: number) => {
      while (sweptTo + sweepStep <= t) {
        sweptTo += sweepStep;
        await engine.sweep(sweptTo);
      }
    };
    // Chunks of at most one window bucket each: window state moves in bucket steps anyway.
    for (let i = 0; i < entries.length;) {
      const chunkStart = entries[i]!.timestamp;
      let j = i;
      while (j < entries.length && j - i < PAGE && entries[j]!.timestamp < chunkStart + b) j++;
      const chunk = entries.slice(i, j);
      await sweepUntil(chunkStart);
      await engine.evaluate(chunk, Math.max(chunk.at(-1)!.timestamp, 1));
      i = j;
    }
    await sweepUntil(to);
    const found = await new AlertStore(options.redis, keys).list({ limit: 500 });
    return {
      rule,
      from: start,
      to,
      logsEvaluated: entries.length,
      truncated,
      alerts: found.alerts.reverse(),
    };
  } finally {
    await deleteKeys(options.redis, prefix);
  }
}
