/**
 * Deliveries that fail for good are dead-lettered, per tenant, and can be replayed; rule evaluation errors are
 * counted and shown on the rule. A real Redis, a real HTTP receiver that answers 500 until it recovers, a closed
 * port, the official MCP client against the listening server.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startRedisServer, type RedisServerHandle } from "../../test/support/redis-server.ts";
import {
  ADMIN_KEY,
  INGEST_KEY,
  READ_KEY,
  bearer,
  eventually,
  startAlertingApp,
  startWebhookReceiver,
  type AlertingApp,
  type WebhookReceiver,
} from "../../test/support/alerting-harness.ts";
import { mcpExtension } from "../mcp/mcp-extension.ts";
import { ActionWorker, CONSUMER_GROUP } from "./actions/action-worker.ts";
import { DEAD_LETTER_MAXLEN, finishJob, type FailedDelivery } from "./actions/dead-letters.ts";
import { GENERIC_DELIVERY_ERROR } from "./actions/webhook.ts";
import { parseWebhookAllowList } from "./alerting.ts";
import { AlertStore } from "./engine/alert-store.ts";
import { ruleKeys } from "./engine/keys.ts";
import { RuleEngine } from "./engine/rule-engine.ts";
import { withRuleScripts } from "./engine/rule-state-script.ts";
import { validateRule } from "../../contracts/rules/rule-validation.ts";

const SECRET = "dead-letter-secret-0123456789";
let redis: RedisServerHandle;
let app: AlertingApp;
let hook: WebhookReceiver;
let mcpUrl: URL;

beforeAll(async () => {
  redis = await startRedisServer();
  hook = await startWebhookReceiver();
  app = await startAlertingApp(
    redis.url,
    {
      sweepIntervalMs: 100,
      worker: { baseBackoffMs: 10, maxBackoffMs: 20, blockMs: 100 },
      // The receiver listens on loopback, which webhooks reach only through the tenant's allow-list.
      allowInternalWebhooks: ["127.0.0.1/32"],
    },
    (ctx, alerting) => [mcpExtension(ctx, alerting.alerting)],
  );
  mcpUrl = new URL(`${await app.app.listen({ port: 0, host: "127.0.0.1" })}/mcp`);
});
afterAll(async () => {
  await app?.close();
  await hook?.close();
  await redis?.stop();
});

async function createRule(rule: object): Promise<void> {
  const res = await app.app.inject({
    method: "POST",
    url: "/api/v1/rules",
    headers: bearer(ADMIN_KEY),
    payload: rule,
  });
  expect(res.statusCode, res.body).toBe(201);
}

async function ingest(messages: string[]): Promise<void> {
  const res = await app.app.inject({
    method: "POST",
    url: "/api/v1/logs",
    headers: { ...bearer(INGEST_KEY), "content-type": "application/x-ndjson" },
    payload: messages.map((message) => JSON.stringify({ level: "error", source: "api", message })).join("\n"),
  });
  expect(res.statusCode, res.body).toBeLessThan(300);
}

// Response and tool bodies are JSON of many shapes; the tests check them field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function deadLetters(query = ""): Promise<Json[]> {
  const res = await app.app.inject({ url: `/api/v1/dead-letters${query}`, headers: bearer(READ_KEY) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().deadLetters;
}

const forRule = async (ruleId: string) => (await deadLetters()).filter((d) => d.ruleId === ruleId);

async function metrics(): Promise<string> {
  return (await app.app.inject({ url: "/metrics" })).body;
}

function metricValue(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function mcpDeadLetters(): Promise<Json[]> {
  const client = new Client({ name: "neurallog-test", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: bearer(READ_KEY) } }),
  );
  try {
    const result = await client.callTool({ name: "list_dead_letters", arguments: { limit: 10 } });
    const text = (result.content as { text: string }[])[0]!.text;
    expect(result.isError, text).toBeFalsy();
    return JSON.parse(text).deadLetters;
  } finally {
    await client.close();
  }
}

/** A job delivered to a consumer and not acknowledged: what a replica holds while it runs the job. */
async function pendingJob(client: Redis, queue: string): Promise<string> {
  const id = await client.xadd(queue, "*", "alert", "1", "event", "firing");
  const read = (await client.xreadgroup("GROUP", CONSUMER_GROUP, "a", "COUNT", 1, "STREAMS", queue, ">")) as [
    string,
    [string, string[]][],
  ][];
  expect(read[0]![1][0]![0]).toBe(id);
  return id!;
}

describe("a webhook that fails every attempt", () => {
  it("is dead-lettered once, listed by the API, MCP and /metrics, and replayed once the target recovers", async () => {
    hook.respond = (_r, _i, res) => res.writeHead(500).end("down");
    await createRule({
      id: "dl-hook",
      name: "dead letter",
      type: "any",
      when: { contains: "dl-marker" },
      actions: [{ type: "webhook", url: `${hook.url}?token=tok-s3cr3t`, secret: SECRET, maxAttempts: 3 }],
    });
    await ingest(["dl-marker one"]);
    const [entry] = await eventually(async () => {
      const found = await forRule("dl-hook");
      return found.length > 0 && found;
    });
    expect(hook.received).toHaveLength(3);
    expect(entry).toMatchObject({
      ruleId: "dl-hook",
      actionIndex: 0,
      actionType: "webhook",
      event: "firing",
      target: `${new URL(hook.url).origin}/…`,
      attempts: 3,
      status: 500,
      lastError: "HTTP 500",
      replays: 0,
    });
    expect(entry.firstAttemptAt).toBeLessThanOrEqual(entry.lastAttemptAt);
    expect(entry.payload.alert.ruleId).toBe("dl-hook");
    expect(entry.deliveryId).toBe(hook.received[0]!.headers["x-neurallog-delivery"]);
    const shown = JSON.stringify(entry);
    expect(shown).not.toContain("tok-s3cr3t");
    expect(shown).not.toContain(SECRET);

    const [listed] = await mcpDeadLetters();
    expect(listed).toMatchObject({ id: entry.id, rule: "dl-hook", action: "0:webhook", attempts: 3 });
    expect(JSON.stringify(listed)).not.toContain("tok-s3cr3t");

    const before = await metrics();
    expect(metricValue(before, 'neurallog_webhook_dead_letters_total{action="webhook"}')).toBe(1);
    expect(metricValue(before, "neurallog_webhook_dead_letter_stream_length")).toBe(1);

    // A read key sees dead letters; only an admin key replays them.
    const readOnly = await app.app.inject({
      method: "POST",
      url: `/api/v1/dead-letters/${entry.id}/replay`,
      headers: bearer(READ_KEY),
    });
    expect(readOnly.statusCode).toBe(403);

    hook.respond = (_r, _i, res) => res.writeHead(200).end("ok");
    const queueBefore = await app.redis.xlen(app.alerting.alerting().keys.actionQueue);
    const replay = await app.app.inject({
      method: "POST",
      url: `/api/v1/dead-letters/${entry.id}/replay`,
      headers: bearer(ADMIN_KEY),
    });
    expect(replay.statusCode, replay.body).toBe(202);
    expect(replay.json().status).toBe("queued");
    await eventually(() => hook.received.length === 4);
    const redelivered = hook.received[3]!;
    expect(redelivered.headers["x-neurallog-delivery"]).toBe(entry.deliveryId); // receivers can drop duplicates
    expect(redelivered.headers["x-neurallog-signature"]).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(JSON.parse(redelivered.body).alert.id).toBe(entry.payload.alert.id);
    expect(await forRule("dl-hook")).toEqual([]);

    // A client retrying its POST queues nothing more.
    const again = await app.app.inject({
      method: "POST",
      url: `/api/v1/dead-letters/${entry.id}/replay`,
      headers: bearer(ADMIN_KEY),
    });
    expect(again.statusCode, again.body).toBe(202);
    expect(again.json()).toMatchObject({ status: "already-queued", jobId: replay.json().jobId });
    expect(await app.redis.xlen(app.alerting.alerting().keys.actionQueue)).toBe(queueBefore + 1);

    const keys = app.alerting.alerting().keys;
    await eventually(
      async () => ((await app.redis.xpending(keys.actionQueue, CONSUMER_GROUP)) as [number])[0] === 0,
    );
    expect(hook.received).toHaveLength(4);
    expect(metricValue(await metrics(), "neurallog_webhook_dead_letter_stream_length")).toBe(0);
  });

  it("reads the same for a closed port as the delivery log does (no port-scan oracle)", async () => {
    const closed = await freePort();
    await createRule({
      id: "dl-closed",
      name: "closed port",
      type: "any",
      when: { contains: "closed-marker" },
      actions: [{ type: "webhook", url: `http://127.0.0.1:${closed}/hook`, maxAttempts: 2, timeout: "1s" }],
    });
    await ingest(["closed-marker"]);
    const [entry] = await eventually(async () => {
      const found = await forRule("dl-closed");
      return found.length > 0 && found;
    });
    expect(entry).toMatchObject({ attempts: 2, lastError: GENERIC_DELIVERY_ERROR });
    expect(entry.status).toBeUndefined();
  });

  it("404 for an unknown or deleted dead letter, 409 when its rule lost the action, 400 for a bad id", async () => {
    const unknown = await app.app.inject({
      method: "POST",
      url: "/api/v1/dead-letters/1-0/replay",
      headers: bearer(ADMIN_KEY),
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toContain('no dead letter "1-0"');
    const bad = await app.app.inject({
      method: "POST",
      url: "/api/v1/dead-letters/nope/replay",
      headers: bearer(ADMIN_KEY),
    });
    expect(bad.statusCode).toBe(400);

    const [entry] = await forRule("dl-closed");
    const removed = await app.app.inject({
      method: "DELETE",
      url: "/api/v1/rules/dl-closed",
      headers: bearer(ADMIN_KEY),
    });
    expect(removed.statusCode).toBe(204);
    const orphan = await app.app.inject({
      method: "POST",
      url: `/api/v1/dead-letters/${entry.id}/replay`,
      headers: bearer(ADMIN_KEY),
    });
    expect(orphan.statusCode).toBe(409);
    const del = (method: "DELETE") =>
      app.app.inject({ method, url: `/api/v1/dead-letters/${entry.id}`, headers: bearer(ADMIN_KEY) });
    expect((await del("DELETE")).statusCode).toBe(204);
    expect((await del("DELETE")).statusCode).toBe(404);
  });

  it("pages newest first", async () => {
    // Jobs of a queue of their own, so the app's worker does not take them.
    const keys = {
      ...app.alerting.alerting().keys,
      actionQueue: `${app.alerting.alerting().keys.prefix}paging`,
    };
    await app.redis.xgroup("CREATE", keys.actionQueue, CONSUMER_GROUP, "0", "MKSTREAM");
    const failed = (n: number): FailedDelivery => ({
      deliveryId: `page-${n}/0`,
      jobId: `page-${n}`,
      alertId: "1",
      ruleId: "paging",
      event: "firing",
      actionIndex: 0,
      actionType: "slack",
      target: "https://hooks.example.com/…",
      attempts: 1,
      lastError: "HTTP 500",
      firstAttemptAt: n,
      lastAttemptAt: n,
      payload: "{}",
      replays: 0,
    });
    for (let n = 1; n <= 3; n++) {
      const job = await pendingJob(app.redis, keys.actionQueue);
      expect(await finishJob(app.redis, keys, CONSUMER_GROUP, job, [failed(n)])).toHaveLength(1);
    }
    const first = await app.app.inject({ url: "/api/v1/dead-letters?limit=2", headers: bearer(READ_KEY) });
    const page = first.json();
    expect(page.deadLetters.map((d: Json) => d.jobId)).toEqual(["page-3", "page-2"]);
    const second = await deadLetters(`?limit=2&cursor=${page.nextCursor}`);
    expect(second[0].jobId).toBe("page-1");
  });
});

describe("a replay", () => {
  it("goes through the connect-time guard again: a refused target stays undelivered and comes back", async () => {
    // A rule from git is not checked when it loads (validate did that); the tenant allows no internal address.
    const dir = await mkdtemp(join(tmpdir(), "nl-dead-letters-"));
    const guarded = await startWebhookReceiver();
    const rules = [
      {
        id: "inside",
        name: "inside",
        type: "any",
        when: { contains: "guard-marker" },
        actions: [{ type: "webhook", url: guarded.url }],
      },
    ];
    await writeFile(join(dir, "rules.json"), JSON.stringify(rules));
    const other = await startAlertingApp(
      redis.url,
      { rulesFile: join(dir, "rules.json"), sweepIntervalMs: 100, worker: { blockMs: 100 } },
      () => [],
      "guard",
    );
    const list = async () =>
      (await other.app.inject({ url: "/api/v1/dead-letters", headers: bearer(READ_KEY) })).json().deadLetters;
    try {
      const res = await other.app.inject({
        method: "POST",
        url: "/api/v1/logs",
        headers: { ...bearer(INGEST_KEY), "content-type": "application/x-ndjson" },
        payload: JSON.stringify({ level: "error", source: "s", message: "guard-marker" }),
      });
      expect(res.statusCode).toBeLessThan(300);
      const [first] = await eventually(async () => {
        const found = await list();
        return found.length > 0 && found;
      });
      expect(first).toMatchObject({ ruleId: "inside", attempts: 1 });
      expect(first.lastError).toMatch(/^refused: .*loopback/);
      // Another tenant's dead letters are not this one's.
      expect((await forRule("inside")).length).toBe(0);

      const replay = await other.app.inject({
        method: "POST",
        url: `/api/v1/dead-letters/${first.id}/replay`,
        headers: bearer(ADMIN_KEY),
      });
      expect(replay.statusCode, replay.body).toBe(202);
      const [again] = await eventually(async () => {
        const found = await list();
        return found.length > 0 && found[0].id !== first.id && found;
      });
      expect(again).toMatchObject({ ruleId: "inside", replays: 1, deliveryId: first.deliveryId });
      expect(again.lastError).toMatch(/^refused: /);
      expect(guarded.received).toHaveLength(0);
    } finally {
      await other.close();
      await guarded.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the pending-job lifecycle", () => {
  const keys = ruleKeys("lifecycle");
  let client: Redis;
  let target: WebhookReceiver;
  beforeAll(async () => {
    client = new Redis(redis.url);
    target = await startWebhookReceiver();
    target.respond = (_r, _i, res) => res.writeHead(503).end();
  });
  afterAll(async () => {
    client?.disconnect();
    await target?.close();
  });

  const rule = () =>
    validateRule(
      {
        id: "lifecycle",
        name: "lifecycle",
        type: "any",
        actions: [{ type: "webhook", url: target.url, maxAttempts: 2 }],
      },
      { origin: "api", now: Date.now() },
    );

  it("a job whose replica died before dead-lettering it is taken over and dead-lettered exactly once", async () => {
    const r = rule();
    const engine = new RuleEngine({ redis: withRuleScripts(client), keys });
    engine.setRules([r]);
    await client.xgroup("CREATE", keys.actionQueue, CONSUMER_GROUP, "0", "MKSTREAM");
    await engine.evaluate([{ timestamp: Date.now(), level: "info", message: "x", source: "s", fields: {} }]);
    // A replica reads the job, makes its attempts (they fail) and dies before acknowledging or dead-lettering.
    await client.xreadgroup("GROUP", CONSUMER_GROUP, "died", "COUNT", 1, "STREAMS", keys.actionQueue, ">");
    expect(await client.xlen(keys.deadLetters)).toBe(0);

    let written = 0;
    const worker = new ActionWorker({
      redis: client,
      keys,
      tenant: "lifecycle",
      alerts: new AlertStore(client, keys),
      rule: (id) => (id === r.id ? r : undefined),
      claimIdleMs: 200,
      blockMs: 100,
      baseBackoffMs: 10,
      maxBackoffMs: 10,
      allowInternal: parseWebhookAllowList(["127.0.0.1"]),
      onDeadLetter: () => written++,
    });
    await worker.start();
    try {
      await eventually(
        async () => ((await client.xpending(keys.actionQueue, CONSUMER_GROUP)) as [number])[0] === 0,
      );
    } finally {
      await worker.stop();
    }
    expect(target.received).toHaveLength(2);
    const rows = await client.xrange(keys.deadLetters, "-", "+");
    expect(rows).toHaveLength(1);
    expect(written).toBe(1);
  });

  it("two replicas finishing the same job write one dead letter", async () => {
    const job = await pendingJob(client, keys.actionQueue);
    const failed: FailedDelivery = {
      deliveryId: `${job}/0`,
      jobId: job,
      alertId: "1",
      ruleId: "lifecycle",
      event: "firing",
      actionIndex: 0,
      actionType: "webhook",
      target: "http://127.0.0.1/…",
      attempts: 2,
      lastError: "HTTP 503",
      firstAttemptAt: 1,
      lastAttemptAt: 2,
      payload: "{}",
      replays: 0,
    };
    const before = await client.xlen(keys.deadLetters);
    const [a, b] = await Promise.all([
      finishJob(client, keys, CONSUMER_GROUP, job, [failed]),
      finishJob(client, keys, CONSUMER_GROUP, job, [failed]),
    ]);
    expect([a.length, b.length].sort()).toEqual([0, 1]);
    expect(await client.xlen(keys.deadLetters)).toBe(before + 1);
  });

  it("keeps at most DEAD_LETTER_MAXLEN entries", async () => {
    const small = ruleKeys("capped");
    await client.xgroup("CREATE", small.actionQueue, CONSUMER_GROUP, "0", "MKSTREAM");
    const job = await pendingJob(client, small.actionQueue);
    const pipeline = client.pipeline();
    for (let i = 0; i < DEAD_LETTER_MAXLEN + 5; i++) pipeline.xadd(small.deadLetters, "*", "n", String(i));
    await pipeline.exec();
    await finishJob(client, small, CONSUMER_GROUP, job, [
      {
        deliveryId: "d",
        jobId: job,
        alertId: "1",
        ruleId: "r",
        event: "firing",
        actionIndex: 0,
        actionType: "webhook",
        target: "t",
        attempts: 1,
        lastError: "HTTP 500",
        firstAttemptAt: 1,
        lastAttemptAt: 1,
        payload: "{}",
        replays: 0,
      },
    ]);
    expect(await client.xlen(small.deadLetters)).toBe(DEAD_LETTER_MAXLEN);
  });
});

describe("rule evaluation errors", () => {
  it("are counted in /metrics and shown on the rule, and the other rules of the batch still fire", async () => {
    await createRule({
      id: "ver-change",
      name: "version",
      type: "change",
      field: "version",
      when: { contains: "eval-marker" },
    });
    await createRule({ id: "eval-any", name: "any", type: "any", when: { contains: "eval-marker" } });
    // The change rule's state key holds a value of the wrong type (left by hand, by another tool): its script
    // work fails with WRONGTYPE.
    const prefix = app.alerting.alerting().keys.prefix;
    await app.redis.set(`${prefix}rs:ver-change:last`, "not a hash");

    const res = await app.app.inject({
      method: "POST",
      url: "/api/v1/logs",
      headers: { ...bearer(INGEST_KEY), "content-type": "application/x-ndjson" },
      payload: JSON.stringify({ level: "info", source: "api", message: "eval-marker", version: "2" }),
    });
    expect(res.statusCode, res.body).toBeLessThan(300);

    const alerts = await app.app.inject({ url: "/api/v1/alerts?ruleId=eval-any", headers: bearer(READ_KEY) });
    expect(alerts.json().alerts).toHaveLength(1);
    expect(metricValue(await metrics(), 'neurallog_rule_evaluation_errors_total{rule="ver-change"}')).toBe(1);
    const rule = await eventually(async () => {
      const got = (
        await app.app.inject({ url: "/api/v1/rules/ver-change", headers: bearer(READ_KEY) })
      ).json();
      return got.errorCount > 0 && got;
    });
    expect(rule.errorCount).toBe(1);
    expect(rule.lastError.message).toMatch(/WRONGTYPE/);
    expect(rule.lastError.at).toBeGreaterThan(0);
    const list = await app.app.inject({ url: "/api/v1/rules", headers: bearer(READ_KEY) });
    const listed = list.json().rules.find((r: Json) => r.id === "ver-change");
    expect(listed.errorCount).toBe(1);
    expect(list.json().rules.find((r: Json) => r.id === "eval-any").errorCount).toBe(0);

    // A rule read with GET goes back with PUT as it is (the error fields are output only).
    const { id: _id, origin: _o, createdAt: _c, updatedAt: _u, ...body } = rule;
    const put = await app.app.inject({
      method: "PUT",
      url: "/api/v1/rules/ver-change",
      headers: bearer(ADMIN_KEY),
      payload: body,
    });
    expect(put.statusCode, put.body).toBe(200);
  });
});
