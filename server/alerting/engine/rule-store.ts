/**
 * The rule set of a tenant: rules created through the API (a Redis hash, shared by all replicas) plus rules from
 * the tenant file in git (`NEURALLOG_RULES_FILE`, read-only through the API). Each replica keeps the merged set in
 * memory for the ingest path and reloads it when another replica announces a change (pub/sub) or, since pub/sub
 * can lose messages, at a fixed interval.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Redis } from "ioredis";
import { parse as parseYaml } from "yaml";
import type { RuleKeys } from "./keys.ts";
import {
  RuleValidationFailed,
  type Rule,
  type RuleValidationError,
} from "../../../contracts/rules/rule-schema.ts";
import { validateRule } from "../../../contracts/rules/rule-validation.ts";

export class RuleNotFound extends Error {}
/** The rule lives in git; change it in the tenant file. */
export class RuleReadOnly extends Error {}
export class RuleConflict extends Error {}

/** A rule as it comes out of the rules file, before it gets its first-seen time. */
export type FileRule = Omit<Rule, "createdAt" | "updatedAt">;

/**
 * Reads the rules file (a JSON or YAML array of rules in the `RuleSchema` shape). Errors name the rule index and
 * field, all at once.
 */
export async function loadRulesFile(path: string): Promise<FileRule[]> {
  let parsed: unknown;
  try {
    parsed = parseYaml(await readFile(path, "utf8"));
  } catch (error) {
    throw new Error(`rules file ${path}: cannot read or parse it`, { cause: error });
  }
  if (parsed === null || parsed === undefined) return [];
  if (!Array.isArray(parsed)) throw new Error(`rules file ${path}: expected an array of rules`);
  const problems: string[] = [];
  const rules: FileRule[] = [];
  const ids = new Set<string>();
  parsed.forEach((input, i) => {
    try {
      if (typeof input !== "object" || input === null || typeof (input as { id?: unknown }).id !== "string") {
        problems.push(`[${i}]/id: rules from git need a stable id`);
        return;
      }
      const { createdAt: _c, updatedAt: _u, ...rule } = validateRule(input, { origin: "git", now: 0 });
      if (ids.has(rule.id)) problems.push(`[${i}]/id: duplicate id ${rule.id}`);
      ids.add(rule.id);
      rules.push(rule);
    } catch (error) {
      if (!(error instanceof RuleValidationFailed)) throw error;
      for (const e of error.errors) problems.push(`[${i}]${e.path}: ${e.message}`);
    }
  });
  if (problems.length > 0) throw new Error(`rules file ${path}:\n  ${problems.join("\n  ")}`);
  return rules;
}

export interface RuleStoreOptions {
  readonly redis: Redis;
  readonly keys: RuleKeys;
  readonly fileRules?: readonly FileRule[];
  readonly now?: () => number;
  /** Checks that need the network, run on API writes (the webhook targets); default none. */
  readonly checkTargets?: (rule: Rule) => Promise<RuleValidationError[]>;
}

export class RuleStore {
  private readonly redis: Redis;
  private readonly keys: RuleKeys;
  private readonly fileRules: readonly FileRule[];
  private readonly now: () => number;
  private readonly options: RuleStoreOptions;
  private gitRules: Rule[] = [];
  private rules: Rule[] = [];
  private readonly listeners = new Set<(rules: readonly Rule[]) => void>();

  constructor(options: RuleStoreOptions) {
    this.redis = options.redis;
    this.keys = options.keys;
    this.fileRules = options.fileRules ?? [];
    this.now = options.now ?? Date.now;
    this.options = options;
  }

  /**
   * Git rules get their creation time from Redis, first writer wins per rule content, so every replica (and every
   * restart) agrees on when a rule's windows began, and editing a rule in git starts them afresh.
   */
  private async stampGitRules(): Promise<Rule[]> {
    if (this.fileRules.length === 0) return [];
    const digests = this.fileRules.map((r) =>
      createHash("sha256").update(JSON.stringify(r)).digest("hex").slice(0, 16),
    );
    const pipeline = this.redis.pipeline();
    for (const digest of digests) pipeline.hsetnx(this.keys.gitRulesSeen, digest, String(this.now()));
    for (const digest of digests) pipeline.hget(this.keys.gitRulesSeen, digest);
    const results = (await pipeline.exec()) ?? [];
    return this.fileRules.map((rule, i) => {
      const seen = Number(results[digests.length + i]?.[1] ?? this.now());
      return { ...rule, createdAt: seen, updatedAt: seen };
    });
  }

  /** Reloads from Redis; listeners get the merged set. */
  async load(): Promise<readonly Rule[]> {
    if (this.gitRules.length !== this.fileRules.length) this.gitRules = await this.stampGitRules();
    const stored = await this.redis.hgetall(this.keys.rules);
    const gitIds = new Set(this.gitRules.map((r) => r.id));
    const apiRules: Rule[] = [];
    for (const text of Object.values(stored)) {
      try {
        const rule = JSON.parse(text) as Rule;
        if (!gitIds.has(rule.id)) apiRules.push(rule);
      } catch {
        // A corrupt record must not stop every other rule; it stays visible in Redis for inspection.
      }
    }
    apiRules.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    this.rules = [...this.gitRules, ...apiRules];
    for (const listener of this.listeners) listener(this.rules);
    return this.rules;
  }

  onChange(listener: (rules: readonly Rule[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  list(): readonly Rule[] {
    return this.rules;
  }

  get(id: string): Rule | undefined {
    return this.rules.find((r) => r.id === id);
  }

  private guardWritable(id: string): void {
    if (this.gitRules.some((r) => r.id === id)) {
      throw new RuleReadOnly(`rule "${id}" is defined in the tenant file in git; change it there`);
    }
  }

  private async save(rule: Rule): Promise<Rule> {
    await this.redis
      .multi()
      .hset(this.keys.rules, rule.id, JSON.stringify(rule))
      .publish(this.keys.rulesChanged, rule.id)
      .exec();
    await this.load();
    return rule;
  }

  /** Refusals that need the network (webhook targets resolving inside); a 400 like any validation error. */
  private async checkTargets(rule: Rule): Promise<Rule> {
    const errors = (await this.options.checkTargets?.(rule)) ?? [];
    if (errors.length > 0) throw new RuleValidationFailed(errors);
    return rule;
  }

  async create(input: unknown): Promise<Rule> {
    const rule = await this.checkTargets(validateRule(input, { origin: "api", now: this.now() }));
    this.guardWritable(rule.id);
    if (!(await this.redis.hsetnx(this.keys.rules, rule.id, JSON.stringify(rule)))) {
      throw new RuleConflict(`a rule with id "${rule.id}" exists`);
    }
    await this.redis.publish(this.keys.rulesChanged, rule.id);
    await this.load();
    return rule;
  }

  async replace(id: string, input: unknown): Promise<Rule> {
    this.guardWritable(id);
    const previous = await this.stored(id);
    if (typeof input === "object" && input !== null && "id" in input && input.id !== id) {
      throw new RuleValidationFailed([
        { path: "/id", message: `does not match the rule in the URL (${id})` },
      ]);
    }
    return this.save(
      await this.checkTargets(
        validateRule(input, { origin: "api", now: Math.max(this.now(), previous.updatedAt + 1), previous }),
      ),
    );
  }

  async setEnabled(id: string, enabled: boolean): Promise<Rule> {
    this.guardWritable(id);
    const previous = await this.stored(id);
    return this.save({ ...previous, enabled, updatedAt: Math.max(this.now(), previous.updatedAt + 1) });
  }

  async remove(id: string): Promise<void> {
    this.guardWritable(id);
    const removed = await this.redis.hdel(this.keys.rules, id);
    if (removed === 0) throw new RuleNotFound(`no rule "${id}"`);
    await this.redis.publish(this.keys.rulesChanged, id);
    await this.load();
  }

  private async stored(id: string): Promise<Rule> {
    const text = await this.redis.hget(this.keys.rules, id);
    if (!text) throw new RuleNotFound(`no rule "${id}"`);
    return JSON.parse(text) as Rule;
  }
}
