/**
 * Evaluation errors of each rule, shared by all replicas: how many, and the last one (`{ message, at }`), in one
 * Redis hash (`nl:{tenant}:rules:errors`, fields `<rule id>:count` and `<rule id>:last`). The routes show them on
 * the rule. Writes are coalesced: at most one MULTI in flight, the errors of a burst go out in the next one, so a
 * rule failing on every batch adds no Redis command per batch.
 */
import type { Redis } from "ioredis";
import type { RuleKeys } from "./keys.ts";

export interface RuleErrorState {
  readonly errorCount: number;
  readonly lastError?: { readonly message: string; readonly at: number };
}

export class RuleErrorLog {
  private readonly redis: Redis;
  private readonly keys: RuleKeys;
  private readonly onError: (error: Error) => void;
  private pending = new Map<string, { count: number; message: string; at: number }>();
  private flushing?: Promise<void>;

  constructor(redis: Redis, keys: RuleKeys, onError: (error: Error) => void) {
    this.redis = redis;
    this.keys = keys;
    this.onError = onError;
  }

  record(ruleId: string, message: string, at = Date.now()): void {
    const p = this.pending.get(ruleId);
    this.pending.set(ruleId, { count: (p?.count ?? 0) + 1, message, at });
    this.flushing ??= this.flush();
  }

  /** Resolves once everything recorded so far is in Redis (or failed to get there). */
  async settled(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.size > 0) {
        const batch = this.pending;
        this.pending = new Map();
        const multi = this.redis.multi();
        for (const [ruleId, { count, message, at }] of batch) {
          multi.hincrby(this.keys.ruleErrors, `${ruleId}:count`, count);
          multi.hset(this.keys.ruleErrors, `${ruleId}:last`, JSON.stringify({ message, at }));
        }
        await multi.exec();
      }
    } catch (error) {
      // Redis is unreachable: the metric still counted it, and the next error tries again.
      this.onError(error as Error);
    } finally {
      this.flushing = undefined;
    }
  }

  async all(): Promise<Map<string, RuleErrorState>> {
    const raw = await this.redis.hgetall(this.keys.ruleErrors);
    const out = new Map<string, RuleErrorState>();
    for (const [field, value] of Object.entries(raw)) {
      const cut = field.lastIndexOf(":");
      const ruleId = field.slice(0, cut);
      const state = out.get(ruleId) ?? { errorCount: 0 };
      out.set(
        ruleId,
        field.endsWith(":count") ? { ...state, errorCount: Number(value) } : withLast(state, value),
      );
    }
    return out;
  }

  async get(ruleId: string): Promise<RuleErrorState> {
    const [count, last] = await this.redis.hmget(this.keys.ruleErrors, `${ruleId}:count`, `${ruleId}:last`);
    const state = { errorCount: Number(count ?? 0) };
    return last ? withLast(state, last) : state;
  }

  /** A deleted rule's errors go with it (a new rule of the same id starts clean). */
  async forget(ruleId: string): Promise<void> {
    await this.redis.hdel(this.keys.ruleErrors, `${ruleId}:count`, `${ruleId}:last`);
  }
}

function withLast(state: RuleErrorState, json: string): RuleErrorState {
  try {
    const last = JSON.parse(json) as { message: string; at: number };
    return { ...state, lastError: { message: String(last.message), at: Number(last.at) } };
  } catch {
    return state;
  }
}
