/**
 * The alerting runtime of one server replica: rule store, engine, alert store and action worker, wired together.
 * `alerting-extension.ts` plugs it into the server; the routes and the MCP tools use it.
 */
import type { Redis } from "ioredis";
import { Registry } from "prom-client";
import { alertingMetrics, type AlertingMetrics } from "./alerting-metrics.ts";
import { DeadLetterStore } from "./actions/dead-letters.ts";
import { RuleErrorLog } from "./engine/rule-evaluation-errors.ts";
import { AlertStore } from "./engine/alert-store.ts";
import { ActionWorker } from "./actions/action-worker.ts";
import { dedicatedConnection } from "./actions/dedicated-connection.ts";
import type { ExtensionContext } from "../extension.ts";
import type { StoredLogEntry } from "../logs/log-entry.ts";
import { ruleKeys, type RuleKeys } from "./engine/keys.ts";
import { RuleEngine } from "./engine/rule-engine.ts";
import type { Rule } from "../../contracts/rules/rule-schema.ts";
import { withRuleScripts } from "./engine/rule-state-script.ts";
import { RuleStore, type FileRule } from "./engine/rule-store.ts";
import { testRule, type RuleTestRequest, type RuleTestResult } from "./engine/rule-tester.ts";
import { parseAllowedCidr, type AllowedCidr } from "../../contracts/network/internal-address.ts";
import { webhookTargetErrors } from "./actions/webhook-targets.ts";

export interface AlertingOptions {
  /** A JSON or YAML array of rules from the tenant file (read-only through the API). Env NEURALLOG_RULES_FILE. */
  readonly rulesFile?: string;
  /** Timer for resolutions and absence-type rules. Default 1 s. */
  readonly sweepIntervalMs?: number;
  /** Rule-set reload interval, a backstop for lost pub/sub messages. Default 10 s. */
  readonly reloadIntervalMs?: number;
  /** Action worker tuning (tests shorten backoff and takeover). */
  readonly worker?: {
    readonly concurrency?: number;
    readonly claimIdleMs?: number;
    readonly baseBackoffMs?: number;
    readonly maxBackoffMs?: number;
    readonly blockMs?: number;
  };
  /** Where `secretEnv` of webhook actions is read. Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Internal addresses (CIDRs or single addresses) webhooks may reach: the tenant file's
   * `server.webhooks.allowInternal`, env NEURALLOG_ALLOW_INTERNAL_WEBHOOKS (comma-separated). Default none.
   */
  readonly allowInternalWebhooks?: readonly string[];
}

/** Parses the allow-list at boot; a bad entry stops the server naming the entry (synth validated it already). */
export function parseWebhookAllowList(entries: readonly string[]): AllowedCidr[] {
  return entries.map((entry) => {
    const parsed = parseAllowedCidr(entry.trim());
    if (!parsed)
      throw new Error(`NEURALLOG_ALLOW_INTERNAL_WEBHOOKS: "${entry}" is not a CIDR or an IP address`);
    return parsed;
  });
}

export class Alerting {
  readonly keys: RuleKeys;
  readonly store: RuleStore;
  readonly engine: RuleEngine;
  readonly alerts: AlertStore;
  readonly worker: ActionWorker;
  readonly deadLetters: DeadLetterStore;
  readonly ruleErrors: RuleErrorLog;
  readonly metrics: AlertingMetrics;
  private readonly ctx: ExtensionContext;
  private readonly options: AlertingOptions;
  private readonly redis: Redis;
  private subscriber?: Redis;
  private timers: NodeJS.Timeout[] = [];
  private sweeping = false;

  /** `registry`: the server's metrics registry (`app.neurallog.metrics.registry`); default a private one. */
  constructor(
    ctx: ExtensionContext,
    options: AlertingOptions,
    fileRules: readonly FileRule[],
    registry: Registry = new Registry(),
  ) {
    this.ctx = ctx;
    this.options = options;
    this.redis = ctx.redis;
    this.keys = ruleKeys(ctx.config.tenant);
    this.deadLetters = new DeadLetterStore(this.redis, this.keys);
    this.metrics = alertingMetrics(
      registry,
      () => this.deadLetters.length(),
      (error) => ctx.logger.warn({ err: error }, "reading the dead-letter stream length failed"),
    );
    this.ruleErrors = new RuleErrorLog(this.redis, this.keys, (error) =>
      ctx.logger.warn({ err: error }, "recording a rule evaluation error failed"),
    );
    const allowInternal = parseWebhookAllowList(options.allowInternalWebhooks ?? []);
    this.store = new RuleStore({
      redis: this.redis,
      keys: this.keys,
      fileRules,
      checkTargets: (rule) => webhookTargetErrors(rule, allowInternal),
    });
    const loggedAt = new Map<string, number>();
    this.engine = new RuleEngine({
      redis: withRuleScripts(this.redis),
      keys: this.keys,
      onRuleError: (ruleId, error) => {
        this.metrics.ruleEvaluationErrors.inc({ rule: ruleId });
        this.ruleErrors.record(ruleId, error.message);
        // A rule failing on every batch would flood the log: once a minute per rule (the count has them all).
        const now = Date.now();
        if ((loggedAt.get(ruleId) ?? -Infinity) > now - 60_000) return;
        if (loggedAt.size > 10_000) loggedAt.clear();
        loggedAt.set(ruleId, now);
        ctx.logger.warn({ err: error, rule: ruleId }, "rule evaluation failed");
      },
    });
    // The periodic reload usually finds nothing new; recompiling would also drop the engine's per-replica caches.
    let loaded = "";
    this.store.onChange((rules) => {
      const fingerprint = JSON.stringify(rules);
      if (fingerprint === loaded) return;
      loaded = fingerprint;
      this.engine.setRules(rules);
    });
    this.alerts = new AlertStore(this.redis, this.keys, ctx.keys.logs);
    this.worker = new ActionWorker({
      redis: this.redis,
      keys: this.keys,
      tenant: ctx.config.tenant,
      alerts: this.alerts,
      rule: (id) => this.store.get(id),
      reloadRules: async () => {
        await this.store.load();
      },
      env: options.env,
      allowInternal,
      ...options.worker,
      onError: (error) => ctx.logger.warn({ err: error }, "action worker"),
      onDeadLetter: (actionType) => this.metrics.deadLetters.inc({ action: actionType }),
    });
  }

  rules(): readonly Rule[] {
    return this.store.list();
  }

  async testRule(request: RuleTestRequest): Promise<RuleTestResult> {
    return testRule(
      { redis: this.redis, tenantPrefix: this.ctx.keys.prefix, queryLogs: this.ctx.queryLogs },
      request,
    );
  }

  /**
   * Rule evaluation never fails an ingest request: the logs are already stored, and a 5xx would only make the
   * shipper send them twice. A failed evaluation is logged.
   */
  async onIngested(entries: readonly StoredLogEntry[]): Promise<void> {
    try {
      const opened = await this.engine.evaluate(entries);
      this.metrics.alertsFired.inc(opened.length);
    } catch (error) {
      this.ctx.logger.error({ err: error, entries: entries.length }, "rule evaluation failed for a batch");
    }
  }

  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const { fired } = await this.engine.sweep(
        0,
        Math.max(50, Math.floor((this.options.sweepIntervalMs ?? 1_000) * 0.8)),
      );
      this.metrics.alertsFired.inc(fired);
    } catch (error) {
      this.ctx.logger.warn({ err: error }, "rule sweep failed");
    } finally {
      this.sweeping = false;
    }
  }

  private async reload(): Promise<void> {
    try {
      await this.store.load();
    } catch (error) {
      this.ctx.logger.warn({ err: error }, "reloading rules failed");
    }
  }

  async start(): Promise<void> {
    await this.store.load();
    this.subscriber = await dedicatedConnection(this.redis, "neurallog-rules-changes");
    this.subscriber.on("message", () => void this.reload());
    await this.subscriber.subscribe(this.keys.rulesChanged);
    this.timers.push(setInterval(() => void this.sweep(), this.options.sweepIntervalMs ?? 1_000));
    this.timers.push(setInterval(() => void this.reload(), this.options.reloadIntervalMs ?? 10_000));
    await this.worker.start();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.worker.stop();
    await this.ruleErrors.settled();
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }
}
