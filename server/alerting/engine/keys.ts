/**
 * Redis keys of rules, alerts and actions. Every key starts with `nl:{tenant}:` so all of a tenant's keys hash to
 * one Redis Cluster slot: the Lua scripts touch many of them atomically, which Cluster only allows within a slot.
 * The rule-state keys are built inside the Lua scripts from `prefix` (see rule-state-script.ts).
 */
import { tenantKeys } from "../../storage/keys.ts";

export interface RuleKeys {
  /** `nl:{tenant}:` — the Lua scripts derive the per-rule state keys from it. */
  readonly prefix: string;
  /** HASH rule id → rule JSON (rules created through the API). */
  readonly rules: string;
  /** HASH digest of a git rule → when a replica first loaded it (its windows start then). */
  readonly gitRulesSeen: string;
  /** PUB/SUB channel: "rules changed", so other replicas reload their rule cache. */
  readonly rulesChanged: string;
  /** HASH dedup key → id of the firing alert. Also the script's declared key (slot routing). */
  readonly activeAlerts: string;
  /** ZSET alert id by fired time (ms). */
  readonly alerts: string;
  /** HASH of one alert. */
  alert(id: string): string;
  /** STREAM of fired/resolved/notified events of one rule (capped). */
  ruleHistory(ruleId: string): string;
  /** HASH rule id or dedup key → silenced-until (ms). */
  readonly silences: string;
  /** STREAM of action jobs (consumer group `actions`). */
  readonly actionQueue: string;
  /** STREAM of delivery attempts (capped). */
  readonly deliveries: string;
  /** STREAM of HTTP deliveries that failed every attempt (capped, see actions/dead-letters.ts). */
  readonly deadLetters: string;
  /** STRING: the job a dead letter was replayed as (expires), so a repeated replay queues nothing. */
  deadLetterReplayed(id: string): string;
  /** HASH `<rule id>:count` / `<rule id>:last` → evaluation errors of a rule (count, last `{message, at}`). */
  readonly ruleErrors: string;
  /** PUB/SUB channel for the `pubsub` action's default target. */
  readonly alertEvents: string;
}

export function ruleKeys(tenant: string): RuleKeys {
  return ruleKeysUnder(tenantKeys(tenant).prefix);
}

/** Keys under any prefix that keeps the tenant's hash tag (rule tests replay into a scratch prefix). */
export function ruleKeysUnder(prefix: string): RuleKeys {
  return {
    prefix,
    rules: `${prefix}rules`,
    rulesChanged: `${prefix}rules:changed`,
    gitRulesSeen: `${prefix}rules:git-seen`,
    activeAlerts: `${prefix}alerts:active`,
    alerts: `${prefix}alerts`,
    alert: (id) => `${prefix}alert:${id}`,
    ruleHistory: (ruleId) => `${prefix}rule:${ruleId}:history`,
    silences: `${prefix}silences`,
    actionQueue: `${prefix}actions`,
    deliveries: `${prefix}deliveries`,
    deadLetters: `${prefix}deadletters`,
    deadLetterReplayed: (id) => `${prefix}deadletters:replayed:${id}`,
    ruleErrors: `${prefix}rules:errors`,
    alertEvents: `${prefix}alerts:events`,
  };
}
