/**
 * Dead letters: HTTP deliveries (webhook, Slack) that ended without a 2xx — every attempt failed, the target
 * answered a 4xx that is not worth retrying, or the egress guard refused it. They go to one capped Redis stream per
 * tenant (`nl:{tenant}:deadletters`, the newest `DEAD_LETTER_MAXLEN` kept), listed by the API and MCP and replayed
 * on request.
 *
 * No loss, no duplicate: the worker acknowledges a job and writes its dead letters in ONE script (`finish`).
 * Until then the job stays pending in the action queue, so a replica that dies after the last failed attempt leaves
 * it to be taken over and delivered again; once the script ran, the XACK has removed it from the pending list, and
 * a second finisher of the same job (a replica that took it over while the first was stuck) finds nothing to
 * acknowledge and writes nothing. A replay moves the entry back into the action queue, again in one script
 * (`replay`), and leaves a marker so a repeated request queues nothing more.
 */
import type { Redis } from "ioredis";
import type { RuleKeys } from "../engine/keys.ts";
import type { Notification } from "./notification.ts";

/**
 * Entries kept per tenant (exact MAXLEN). An entry is mostly the notification (the alert, its example message cut
 * at 500 characters): 1–2 KB, so a full stream holds 10–20 MB of the tenant's Redis.
 */
export const DEAD_LETTER_MAXLEN = 10_000;
/** How long a replayed id keeps answering with the job it became (a client retrying its POST). */
export const REPLAY_MARKER_SECONDS = 86_400;
/** The action queue's cap, as the rule scripts trim it. */
const ACTION_QUEUE_MAXLEN = "100000";

const FINISH = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return {} end
local ids = {}
for _, fields in ipairs(cjson.decode(ARGV[4])) do
  ids[#ids + 1] = redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], '*', unpack(fields))
end
return ids
`;

const REPLAY = `
local done = redis.call('GET', KEYS[3])
if done then return { 'already', done } end
local rows = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #rows == 0 then return { 'missing' } end
local fields = rows[1][2]
fields[#fields + 1] = 'deadLetter'
fields[#fields + 1] = ARGV[1]
local job = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
redis.call('XDEL', KEYS[1], ARGV[1])
redis.call('SET', KEYS[3], job, 'EX', ARGV[2])
return { 'queued', job }
`;

interface DeadLetterRedis extends Redis {
  nlActionFinish(queue: string, deadLetters: string, ...args: string[]): Promise<string[]>;
  nlDeadLetterReplay(
    deadLetters: string,
    queue: string,
    marker: string,
    ...args: string[]
  ): Promise<[string, string?]>;
}

function withScripts(redis: Redis): DeadLetterRedis {
  const r = redis as DeadLetterRedis;
  if (typeof r.nlActionFinish !== "function") {
    redis.defineCommand("nlActionFinish", { numberOfKeys: 2, lua: FINISH });
    redis.defineCommand("nlDeadLetterReplay", { numberOfKeys: 3, lua: REPLAY });
  }
  return r;
}

/** What the worker knows of a delivery that failed for good. */
export interface FailedDelivery {
  readonly deliveryId: string;
  readonly jobId: string;
  readonly alertId: string;
  readonly ruleId: string;
  readonly event: string;
  readonly actionIndex: number;
  readonly actionType: string;
  /** The URL without path or query (`redactUrl`): tokens in Slack-style URLs stay in the rule. */
  readonly target: string;
  readonly attempts: number;
  readonly status?: number;
  /** As the delivery log has it: generic for failures without an HTTP response. */
  readonly lastError: string;
  readonly firstAttemptAt: number;
  readonly lastAttemptAt: number;
  /** The notification as first sent; a replay sends it again, with the same delivery id. */
  readonly payload: string;
  readonly replays: number;
}

export interface DeadLetter extends Omit<FailedDelivery, "payload"> {
  readonly id: string;
  /** When it was dead-lettered (ms). */
  readonly at: number;
  readonly payload: Notification | null;
}

function streamFields(f: FailedDelivery): string[] {
  return [
    "delivery",
    f.deliveryId,
    "job",
    f.jobId,
    "alert",
    f.alertId,
    "rule",
    f.ruleId,
    "event",
    f.event,
    "action",
    `${f.actionIndex}:${f.actionType}`,
    "target",
    f.target,
    "attempts",
    String(f.attempts),
    "status",
    f.status === undefined ? "" : String(f.status),
    "error",
    f.lastError,
    "first",
    String(f.firstAttemptAt),
    "last",
    String(f.lastAttemptAt),
    "payload",
    f.payload,
    "replays",
    String(f.replays),
  ];
}

export function fieldMap(raw: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) out[raw[i]!] = raw[i + 1]!;
  return out;
}

/** A dead letter (or the replay job made of one) read back from its stream fields. */
export function failedDelivery(f: Record<string, string>): FailedDelivery {
  const [index = "0", type = ""] = (f.action ?? "").split(":");
  return {
    deliveryId: f.delivery ?? "",
    jobId: f.job ?? "",
    alertId: f.alert ?? "",
    ruleId: f.rule ?? "",
    event: f.event ?? "",
    actionIndex: Number(index),
    actionType: type,
    target: f.target ?? "",
    attempts: Number(f.attempts ?? 0),
    ...(f.status ? { status: Number(f.status) } : {}),
    lastError: f.error ?? "",
    firstAttemptAt: Number(f.first ?? 0),
    lastAttemptAt: Number(f.last ?? 0),
    payload: f.payload ?? "",
    replays: Number(f.replays ?? 0),
  };
}

function deadLetter(id: string, raw: readonly string[]): DeadLetter {
  const f = failedDelivery(fieldMap(raw));
  let payload: Notification | null = null;
  try {
    payload = JSON.parse(f.payload) as Notification;
  } catch {
    // Written by this module as JSON; a hand-edited entry shows without its payload.
  }
  return { id, at: Number(id.split("-")[0]), ...f, payload };
}

/**
 * Acknowledges job `jobId` and writes its failed deliveries, atomically; returns the dead-letter ids written
 * (none when the job was no longer pending: another replica finished it).
 */
export async function finishJob(
  redis: Redis,
  keys: RuleKeys,
  group: string,
  jobId: string,
  failed: readonly FailedDelivery[],
): Promise<string[]> {
  return withScripts(redis).nlActionFinish(
    keys.actionQueue,
    keys.deadLetters,
    group,
    jobId,
    String(DEAD_LETTER_MAXLEN),
    JSON.stringify(failed.map(streamFields)),
  );
}

export interface DeadLetterPage {
  readonly deadLetters: DeadLetter[];
  /** Pass as `cursor` for older entries; absent on the last page. */
  readonly nextCursor?: string;
}

export type ReplayResult =
  { readonly status: "queued" | "already-queued"; readonly jobId: string } | { readonly status: "missing" };

export class DeadLetterStore {
  private readonly redis: DeadLetterRedis;
  private readonly keys: RuleKeys;

  constructor(redis: Redis, keys: RuleKeys) {
    this.redis = withScripts(redis);
    this.keys = keys;
  }

  /** Newest first; `cursor` is the id of the last entry of the previous page. */
  async list(options: { limit?: number; cursor?: string } = {}): Promise<DeadLetterPage> {
    const limit = options.limit ?? 20;
    const end = options.cursor ? `(${options.cursor}` : "+";
    const rows = await this.redis.xrevrange(this.keys.deadLetters, end, "-", "COUNT", limit + 1);
    const page = rows.slice(0, limit).map(([id, raw]) => deadLetter(id, raw));
    return rows.length > limit ? { deadLetters: page, nextCursor: page.at(-1)!.id } : { deadLetters: page };
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    const [row] = await this.redis.xrange(this.keys.deadLetters, id, id);
    return row ? deadLetter(row[0], row[1]) : undefined;
  }

  /** Moves the entry back into the action queue (once: a repeated call answers with the same job). */
  async replay(id: string): Promise<ReplayResult> {
    const [status, jobId] = await this.redis.nlDeadLetterReplay(
      this.keys.deadLetters,
      this.keys.actionQueue,
      this.keys.deadLetterReplayed(id),
      id,
      String(REPLAY_MARKER_SECONDS),
      ACTION_QUEUE_MAXLEN,
    );
    if (status === "missing" || !jobId) return { status: "missing" };
    return { status: status === "already" ? "already-queued" : "queued", jobId };
  }

  /** True when the entry existed. */
  async remove(id: string): Promise<boolean> {
    return (await this.redis.xdel(this.keys.deadLetters, id)) > 0;
  }

  length(): Promise<number> {
    return this.redis.xlen(this.keys.deadLetters);
  }
}
