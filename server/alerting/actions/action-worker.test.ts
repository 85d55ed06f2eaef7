/**
 * At-least-once delivery: a replica that stops in the middle of a delivery leaves the job pending, and another
 * replica takes it over once it has been idle long enough, with the same delivery id.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startRedisServer, type RedisServerHandle } from "../../../test/support/redis-server.ts";
import { AlertStore } from "../engine/alert-store.ts";
import {
  eventually,
  startWebhookReceiver,
  type WebhookReceiver,
} from "../../../test/support/alerting-harness.ts";
import { ruleKeys } from "../engine/keys.ts";
import { RuleEngine } from "../engine/rule-engine.ts";
import type { Rule } from "../../../contracts/rules/rule-schema.ts";
import { withRuleScripts } from "../engine/rule-state-script.ts";
import { validateRule } from "../../../contracts/rules/rule-validation.ts";
import { ActionWorker, CONSUMER_GROUP } from "./action-worker.ts";
import { parseWebhookAllowList } from "../alerting.ts";

const keys = ruleKeys("takeover");
let redis: RedisServerHandle;
let client: Redis;
let hook: WebhookReceiver;

beforeAll(async () => {
  redis = await startRedisServer();
  client = new Redis(redis.url);
  hook = await startWebhookReceiver();
});
afterAll(async () => {
  client?.disconnect();
  await hook?.close();
  await redis?.stop();
});

function worker(rule: Rule, claimIdleMs: number): ActionWorker {
  return new ActionWorker({
    redis: client,
    keys,
    tenant: "takeover",
    alerts: new AlertStore(client, keys),
    rule: (id) => (id === rule.id ? rule : undefined),
    claimIdleMs,
    blockMs: 100,
    baseBackoffMs: 50,
    allowInternal: parseWebhookAllowList(["127.0.0.1"]), // the receiver listens on loopback
  });
}

it("a job left pending by a stopped replica is delivered by another one", async () => {
  const rule = validateRule(
    {
      id: "takeover",
      name: "takeover",
      type: "any",
      actions: [{ type: "webhook", url: hook.url, timeout: "5s", maxAttempts: 1 }],
    },
    { origin: "api", now: Date.now() },
  );
  hook.respond = () => undefined; // the first replica's delivery hangs
  const first = worker(rule, 60_000);
  await first.start();
  const engine = new RuleEngine({ redis: withRuleScripts(client), keys });
  engine.setRules([rule]);
  await engine.evaluate([{ timestamp: Date.now(), level: "info", message: "x", source: "s", fields: {} }]);
  await eventually(() => hook.received.length === 1);
  await first.stop(0); // shutdown aborts the hanging delivery; the job stays pending, unacknowledged
  const [pending] = (await client.xpending(keys.actionQueue, CONSUMER_GROUP)) as [number];
  expect(pending).toBe(1);

  hook.respond = (_r, _i, res) => res.writeHead(200).end("ok");
  const second = worker(rule, 300);
  await second.start();
  try {
    await eventually(() => hook.received.length === 2);
    expect(hook.received[1]!.headers["x-neurallog-delivery"]).toBe(
      hook.received[0]!.headers["x-neurallog-delivery"],
    );
    await eventually(
      async () => ((await client.xpending(keys.actionQueue, CONSUMER_GROUP)) as [number])[0] === 0,
    );
  } finally {
    await second.stop();
  }
});
