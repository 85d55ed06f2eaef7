/**
 * Runs alert actions off the ingest path. The rule scripts append one job per alert event to a Redis stream; every
 * replica reads it through one consumer group (XREADGROUP), so each job goes to exactly one replica, and acknowledges
 * it (XACK) only after its actions ran: at-least-once. A replica that dies mid-job leaves the job pending; another
 * replica takes it over (XAUTOCLAIM) once it has been idle longer than `claimIdleMs`. While a job runs (a webhook
 * retrying with backoff may take a while) its owner keeps refreshing its idle time, so it is not taken over — and
 * delivered twice — while still in progress.
 *
 * An HTTP delivery that ends without a 2xx is dead-lettered when its job is acknowledged, in the same script
 * (dead-letters.ts), so a job is never both lost and dead-lettered twice. A replayed dead letter comes back as a job
 * of its own that carries the notification and the action's index, and runs through the same delivery path.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { AlertStore } from "../engine/alert-store.ts";
import type { RuleKeys } from "../engine/keys.ts";
import { durationMs, type Rule, type RuleAction } from "../../../contracts/rules/rule-schema.ts";
import { dedicatedConnection } from "./dedicated-connection.ts";
import { failedDelivery, fieldMap, finishJob, type FailedDelivery } from "./dead-letters.ts";
import {
  ALERT_EVENTS,
  notification,
  slackMessage,
  type AlertEvent,
  type Notification,
} from "./notification.ts";
import { deliverWebhook, type DeliveryAttempt } from "./webhook.ts";
import type { AllowedCidr } from "../../../contracts/network/internal-address.ts";

export const CONSUMER_GROUP = "actions";

export interface ActionWorkerOptions {
  readonly redis: Redis;
  readonly keys: RuleKeys;
  readonly tenant: string;
  readonly alerts: AlertStore;
  readonly rule: (id: string) => Rule | undefined;
  /** Reloads the rule set (a job may name a rule this replica has not seen yet). */
  readonly reloadRules?: () => Promise<void>;
  /** Jobs run at once per replica. Default 16. */
  readonly concurrency?: number;
  /** A pending job idle this long is taken over by another replica. Default 60 s. */
  readonly claimIdleMs?: number;
  /** XREADGROUP BLOCK time; bounds how long stop() waits for the read. Default 1 s. */
  readonly blockMs?: number;
  /** Webhook defaults (a rule's action may override timeout and attempts). */
  readonly webhookTimeoutMs?: number;
  readonly webhookMaxAttempts?: number;
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Internal ranges webhooks may reach (the tenant's allow-list); default none. */
  readonly allowInternal?: readonly AllowedCidr[];
  readonly onError?: (error: Error) => void;
  /** Called once per dead letter written (by the replica whose acknowledgement wrote it). */
  readonly onDeadLetter?: (actionType: string) => void;
}

interface Job {
  readonly id: string;
  readonly alertId: string;
  readonly event: AlertEvent;
  /** Set on a replayed dead letter: what it was, to be delivered again. */
  readonly replay?: FailedDelivery;
}

function parseJob(id: string, fields: string[]): Job | undefined {
  const f = fieldMap(fields);
  const alertId = f.alert;
  const event = f.event as AlertEvent | undefined;
  if (!alertId || !event || !ALERT_EVENTS.includes(event)) return undefined;
  return { id, alertId, event, ...(f.deadLetter ? { replay: failedDelivery(f) } : {}) };
}

/** How an HTTP action ended (pub/sub actions are not dead-lettered: their one attempt is a Redis command). */
interface HttpOutcome {
  readonly attempts: readonly DeliveryAttempt[];
  readonly firstAt: number;
  readonly lastAt: number;
}

function isHttp(action: RuleAction | undefined): action is RuleAction {
  return action?.type === "webhook" || action?.type === "slack";
}

export class ActionWorker {
  private readonly o: ActionWorkerOptions;
  private readonly consumer = `c-${process.pid}-${randomBytes(4).toString("hex")}`;
  private reader?: Redis;
  private running = false;
  private readonly inFlight = new Map<string, Promise<void>>();
  private loopDone?: Promise<void>;
  private timers: NodeJS.Timeout[] = [];
  private readonly abort = new AbortController();

  constructor(options: ActionWorkerOptions) {
    this.o = options;
  }

  private get concurrency(): number {
    return this.o.concurrency ?? 16;
  }
  private get claimIdleMs(): number {
    return this.o.claimIdleMs ?? 60_000;
  }

  async start(): Promise<void> {
    if (this.running) return;
    try {
      await this.o.redis.xgroup("CREATE", this.o.keys.actionQueue, CONSUMER_GROUP, "0", "MKSTREAM");
    } catch (error) {
      if (!String((error as Error).message).includes("BUSYGROUP")) throw error;
    }
    // XREADGROUP BLOCK holds its connection, so the worker reads on its own.
    this.reader = await dedicatedConnection(this.o.redis, "neurallog-actions");
    this.running = true;
    this.loopDone = this.readLoop();
    this.timers.push(setInterval(() => void this.heartbeat(), Math.max(100, this.claimIdleMs / 3)));
    this.timers.push(setInterval(() => void this.reclaim(), Math.max(100, this.claimIdleMs / 2)));
  }

  /** Stops reading, lets running jobs finish for up to `graceMs`, then aborts their retries. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.loopDone;
    const all = Promise.allSettled([...this.inFlight.values()]);
    const timer = setTimeout(() => this.abort.abort(), graceMs);
    await all;
    clearTimeout(timer);
    this.reader?.disconnect();
  }

  private report(error: unknown): void {
    this.o.onError?.(error instanceof Error ? error : new Error(String(error)));
  }

  private async readLoop(): Promise<void> {
    while (this.running) {
      const free = this.concurrency - this.inFlight.size;
      if (free <= 0) {
        await Promise.race(this.inFlight.values());
        continue;
      }
      try {
        const result = (await this.reader!.xreadgroup(
          "GROUP",
          CONSUMER_GROUP,
          this.consumer,
          "COUNT",
          free,
          "BLOCK",
          this.o.blockMs ?? 1_000,
          "STREAMS",
          this.o.keys.actionQueue,
          ">",
        )) as [string, [string, string[]][]][] | null;
        for (const [, entries] of result ?? []) for (const [id, fields] of entries) this.dispatch(id, fields);
      } catch (error) {
        if (!this.running) break;
        this.report(error);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private dispatch(id: string, fields: string[]): void {
    if (this.inFlight.has(id)) return;
    const run = this.runJob(id, fields)
      .catch((error) => this.report(error))
      .finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, run);
  }

  /** Keeps this replica's running jobs from looking abandoned. */
  private async heartbeat(): Promise<void> {
    const ids = [...this.inFlight.keys()];
    if (ids.length === 0) return;
    try {
      await this.o.redis.xclaim(this.o.keys.actionQueue, CONSUMER_GROUP, this.consumer, 0, ...ids, "JUSTID");
    } catch (error) {
      this.report(error);
    }
  }

  /** Takes over jobs that a dead (or stuck) replica left pending. */
  private async reclaim(): Promise<void> {
    if (!this.running || this.inFlight.size >= this.concurrency) return;
    try {
      const [, entries] = (await this.o.redis.xautoclaim(
        this.o.keys.actionQueue,
        CONSUMER_GROUP,
        this.consumer,
        this.claimIdleMs,
        "0-0",
        "COUNT",
        this.concurrency - this.inFlight.size,
      )) as [string, [string, string[] | null][]];
      for (const [id, fields] of entries) {
        if (fields) this.dispatch(id, fields);
        else await this.o.redis.xack(this.o.keys.actionQueue, CONSUMER_GROUP, id);
      }
    } catch (error) {
      this.report(error);
    }
  }

  private async ruleById(id: string): Promise<Rule | undefined> {
    const rule = this.o.rule(id);
    if (rule || !this.o.reloadRules) return rule;
    // Another replica may have fired a rule created a moment ago that this one has not loaded yet.
    await this.o.reloadRules();
    return this.o.rule(id);
  }

  private async runJob(id: string, fields: string[]): Promise<void> {
    const job = parseJob(id, fields);
    const failed = job?.replay ? await this.runReplay(job, job.replay) : await this.runAlertJob(job);
    // Cut short by shutdown: leave the job pending, another replica takes it over (at-least-once).
    if (this.abort.signal.aborted) return;
    // A job whose alert or rule is gone has nothing left to deliver; acknowledging it keeps the queue moving.
    const written = await finishJob(this.o.redis, this.o.keys, CONSUMER_GROUP, id, failed);
    for (let i = 0; i < written.length; i++) this.o.onDeadLetter?.(failed[i]!.actionType);
  }

  /** Runs every action of the alert's rule; returns the HTTP deliveries that failed for good. */
  private async runAlertJob(job: Job | undefined): Promise<FailedDelivery[]> {
    const alert = job && (await this.o.alerts.get(job.alertId));
    const rule = alert && (await this.ruleById(alert.ruleId));
    if (!job || !alert || !rule) return [];
    const n = notification(this.o.tenant, job.event, alert);
    const payload = JSON.stringify(n);
    const outcomes = await Promise.all(
      (rule.actions ?? []).map((action, i) => this.runAction(job, rule, action, i, n, `${job.id}/${i}`)),
    );
    const failed: FailedDelivery[] = [];
    outcomes.forEach((outcome, i) => {
      const action = rule.actions![i]!;
      if (outcome && !delivered(outcome)) {
        failed.push(
          this.failure(job, rule.id, action, i, outcome, {
            deliveryId: `${job.id}/${i}`,
            jobId: job.id,
            payload,
            replays: 0,
          }),
        );
      }
    });
    return failed;
  }

  /** Delivers a replayed dead letter to its rule's action as the rule has it now (its URL may have been fixed). */
  private async runReplay(job: Job, was: FailedDelivery): Promise<FailedDelivery[]> {
    const rule = await this.ruleById(was.ruleId);
    const action = rule?.actions?.[was.actionIndex];
    const again = {
      deliveryId: was.deliveryId,
      jobId: was.jobId,
      payload: was.payload,
      replays: was.replays + 1,
    };
    // What cannot be delivered goes back to the dead letters with the reason, rather than vanish.
    const undeliverable = (lastError: string) => [
      { ...was, ...again, attempts: 0, lastError, lastAttemptAt: Date.now() },
    ];
    if (!rule || !isHttp(action)) {
      return undeliverable(`rule "${was.ruleId}" has no webhook or slack action ${was.actionIndex} any more`);
    }
    let n: Notification;
    try {
      n = JSON.parse(was.payload) as Notification;
    } catch {
      return undeliverable("the stored notification is not JSON");
    }
    const outcome = await this.runAction(job, rule, action, was.actionIndex, n, was.deliveryId);
    if (!outcome || delivered(outcome)) return [];
    const failure = this.failure(job, rule.id, action, was.actionIndex, outcome, again);
    return [{ ...failure, firstAttemptAt: was.firstAttemptAt || failure.firstAttemptAt }];
  }

  private failure(
    job: Job,
    ruleId: string,
    action: RuleAction,
    index: number,
    outcome: HttpOutcome,
    origin: Pick<FailedDelivery, "deliveryId" | "jobId" | "payload" | "replays">,
  ): FailedDelivery {
    const last = outcome.attempts.at(-1);
    return {
      ...origin,
      alertId: job.alertId,
      ruleId,
      event: job.event,
      actionIndex: index,
      actionType: action.type,
      target: redactUrl(action.url ?? ""),
      attempts: outcome.attempts.length,
      ...(last?.status === undefined ? {} : { status: last.status }),
      lastError: last?.error ?? "no attempt was made",
      firstAttemptAt: outcome.firstAt,
      lastAttemptAt: outcome.lastAt,
    };
  }

  private async runAction(
    job: Job,
    rule: Rule,
    action: RuleAction,
    index: number,
    n: Notification,
    deliveryId: string,
  ): Promise<HttpOutcome | undefined> {
    const log = (attempt: DeliveryAttempt) => this.logDelivery(job, rule, action, index, attempt);
    if (action.type === "pubsub") {
      const started = performance.now();
      try {
        const receivers = await this.o.redis.publish(pubsubChannel(this.o.keys, action), JSON.stringify(n));
        await log({
          attempt: 1,
          ok: true,
          status: receivers,
          durationMs: Math.round(performance.now() - started),
        });
      } catch (error) {
        await log({ attempt: 1, ok: false, error: (error as Error).message, durationMs: 0 });
      }
      return undefined;
    }
    const secret =
      action.secret ?? (action.secretEnv ? (this.o.env ?? process.env)[action.secretEnv] : undefined);
    const firstAt = Date.now();
    const attempts = await deliverWebhook({
      url: action.url!,
      body: JSON.stringify(action.type === "slack" ? slackMessage(n) : n),
      secret,
      deliveryId,
      event: job.event,
      timeoutMs: action.timeout ? durationMs(action.timeout) : (this.o.webhookTimeoutMs ?? 5_000),
      maxAttempts: action.maxAttempts ?? this.o.webhookMaxAttempts ?? 5,
      baseBackoffMs: this.o.baseBackoffMs ?? 1_000,
      maxBackoffMs: this.o.maxBackoffMs ?? 60_000,
      onAttempt: log,
      signal: this.abort.signal,
      allowInternal: this.o.allowInternal,
    });
    return { attempts, firstAt, lastAt: Date.now() };
  }

  private async logDelivery(
    job: Job,
    rule: Rule,
    action: RuleAction,
    index: number,
    a: DeliveryAttempt,
  ): Promise<void> {
    try {
      await this.o.redis.xadd(
        this.o.keys.deliveries,
        "MAXLEN",
        "~",
        "10000",
        "*",
        "job",
        job.id,
        "alert",
        job.alertId,
        "rule",
        rule.id,
        "event",
        job.event,
        "action",
        `${index}:${action.type}`,
        "target",
        action.type === "pubsub" ? pubsubChannel(this.o.keys, action) : redactUrl(action.url ?? ""),
        "attempt",
        String(a.attempt),
        "ok",
        a.ok ? "1" : "0",
        "status",
        a.status === undefined ? "" : String(a.status),
        "error",
        a.error ?? "",
        "ms",
        String(a.durationMs),
      );
    } catch (error) {
      this.report(error);
    }
  }
}

function delivered(outcome: HttpOutcome): boolean {
  return outcome.attempts.at(-1)?.ok ?? false;
}

/**
 * A rule's channel is a suffix under the tenant's alert events channel: an admin key cannot publish into another
 * tenant's channels or into the server's own (`rules:changed`).
 */
export function pubsubChannel(keys: RuleKeys, action: RuleAction): string {
  return action.channel ? `${keys.alertEvents}:${action.channel}` : keys.alertEvents;
}

/** Webhook URLs often carry tokens in their path or query (Slack does); the log keeps only origin and a hint. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname.length > 1 ? "/…" : "/"}`;
  } catch {
    return "invalid url";
  }
}
