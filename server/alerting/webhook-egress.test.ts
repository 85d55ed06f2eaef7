/**
 * Webhooks cannot reach inside: an admin key cannot point a rule at the metadata service, loopback (in any
 * spelling), the tenant's own Redis or a name resolving to one of them, neither when the rule is written (400
 * naming the URL) nor when it is delivered (the connect-time lookup); the rule history reads the same for a closed
 * and a silent port; a tenant's allow-list opens exactly the ranges it names. Real HTTP servers and a real Redis.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startRedisServer, type RedisServerHandle } from "../../test/support/redis-server.ts";
import {
  ADMIN_KEY,
  bearer,
  startAlertingApp,
  startWebhookReceiver,
  type AlertingApp,
  type WebhookReceiver,
} from "../../test/support/alerting-harness.ts";
import { parseWebhookAllowList } from "./alerting.ts";
import { deliverWebhook, GENERIC_DELIVERY_ERROR } from "./actions/webhook.ts";

let redis: RedisServerHandle;
let app: AlertingApp;
let hook: WebhookReceiver;
let silent: Server;
let silentPort: number;

beforeAll(async () => {
  redis = await startRedisServer();
  hook = await startWebhookReceiver();
  app = await startAlertingApp(redis.url); // no allow-list: the default
  // Accepts connections and never answers (a filtered or slow port).
  silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()));
  silentPort = (silent.address() as AddressInfo).port;
});
afterAll(async () => {
  await app?.close();
  await hook?.close();
  silent?.closeAllConnections();
  await new Promise((resolve) => silent?.close(resolve));
  await redis?.stop();
});

const createRule = (url: string, extra: object = {}) =>
  app.app.inject({
    method: "POST",
    url: "/api/v1/rules",
    headers: bearer(ADMIN_KEY),
    payload: { name: "probe", type: "any", actions: [{ type: "webhook", url, ...extra }] },
  });

const deliver = (url: string, allow: string[] = []) =>
  deliverWebhook({
    url,
    body: "{}",
    deliveryId: "d",
    event: "firing",
    timeoutMs: 300,
    maxAttempts: 2,
    baseBackoffMs: 10,
    maxBackoffMs: 10,
    allowInternal: parseWebhookAllowList(allow),
  });

describe("creating a rule", () => {
  it.each([
    ["http://169.254.169.254/latest/meta-data/", /cloud metadata/],
    ["http://[fd00:ec2::254]/", /cloud metadata/],
    ["http://[fd00::1]/", /unique local/],
    ["http://169.254.1.1/", /link-local/],
    ["http://0x7f000001:8080/", /127\.0\.0\.1 is a loopback/],
    ["http://[::ffff:127.0.0.1]/", /loopback address in IPv6 form/],
    ["http://100.100.100.200/", /cloud metadata/],
    ["http://100.64.0.1/", /carrier-grade NAT/],
    ["http://10.96.0.1/", /private/],
    ["http://localhost/", /localhost resolves to a loopback/],
  ])("refuses %s with a 400 naming the URL and why", async (url, why) => {
    const res = await createRule(url);
    expect(res.statusCode, res.body).toBe(400);
    const message = res.json().message as string;
    expect(message).toContain("/actions/0/url");
    expect(message).toContain(new URL(url).origin);
    expect(message).toMatch(why);
  });

  it("refuses the tenant's own Redis", async () => {
    const res = await createRule(`http://${new URL(redis.url).host}/`);
    expect(res.statusCode, res.body).toBe(400);
  });

  it("refuses secretEnv outside NEURALLOG_WEBHOOK_ and unsafe pub/sub channels", async () => {
    const env = await createRule("https://hooks.example.com/x", { secretEnv: "REDIS_URL" });
    expect(env.statusCode).toBe(400);
    expect(env.json().message).toMatch(/\/actions\/0\/secretEnv: .*NEURALLOG_WEBHOOK_/);
    const channel = await app.app.inject({
      method: "POST",
      url: "/api/v1/rules",
      headers: bearer(ADMIN_KEY),
      payload: { name: "p", type: "any", actions: [{ type: "pubsub", channel: "nl:{other}:rules:changed" }] },
    });
    expect(channel.statusCode).toBe(400);
    expect(channel.json().message).toMatch(/\/actions\/0\/channel/);
  });
});

describe("delivering", () => {
  it("refuses internal targets at connect time, whatever the rule store let through", async () => {
    const port = new URL(hook.url).port;
    for (const url of [`http://localhost:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`, hook.url]) {
      const attempts = await deliver(url);
      expect(attempts).toHaveLength(1); // a refusal is not retried
      expect(attempts[0]!.ok).toBe(false);
      expect(attempts[0]!.error).toMatch(/^refused: .*loopback/);
    }
    expect(hook.received).toHaveLength(0);
  });

  it("reaches an allow-listed internal target, by address and by a name resolving into it", async () => {
    const port = new URL(hook.url).port;
    expect((await deliver(hook.url, ["127.0.0.1/32"]))[0]!.ok).toBe(true);
    expect((await deliver(`http://localhost:${port}/`, ["127.0.0.0/8"]))[0]!.ok).toBe(true);
    expect(hook.received).toHaveLength(2);
    // Another loopback address is outside the /32.
    expect((await deliver(`http://127.0.0.2:${port}/`, ["127.0.0.1/32"]))[0]!.error).toMatch(/^refused: /);
  });

  it("never reaches a metadata address, even inside an allow-listed range", async () => {
    for (const url of ["http://169.254.169.254/", "http://[::ffff:169.254.169.254]/"]) {
      const attempts = await deliver(url, ["169.254.0.0/16"]);
      expect(attempts).toHaveLength(1);
      expect(attempts[0]!.error).toMatch(/^refused: .*cloud metadata/);
    }
  });

  it("records the same error for a closed port and a silent one (no port-scan oracle)", async () => {
    const closed = await freePort();
    const allow = ["127.0.0.1/32"];
    const [a, b] = await Promise.all([
      deliver(`http://127.0.0.1:${closed}/`, allow),
      deliver(`http://127.0.0.1:${silentPort}/`, allow),
    ]);
    for (const attempts of [a, b]) {
      expect(attempts).toHaveLength(2);
      for (const attempt of attempts) expect(attempt.error).toBe(GENERIC_DELIVERY_ERROR);
    }
  });

  it("publishes pub/sub actions under the tenant's own alert events channel", async () => {
    const subscriber = new Redis(redis.url);
    try {
      const channel = `${app.alerting.alerting().keys.alertEvents}:ops`;
      await subscriber.subscribe(channel);
      const got = new Promise<string>((resolve) => subscriber.once("message", (c: string) => resolve(c)));
      const res = await app.app.inject({
        method: "POST",
        url: "/api/v1/rules",
        headers: bearer(ADMIN_KEY),
        payload: {
          id: "pub",
          name: "p",
          type: "any",
          when: { contains: "pub-marker" },
          actions: [{ type: "pubsub", channel: "ops" }],
        },
      });
      expect(res.statusCode, res.body).toBe(201);
      await app.alerting
        .alerting()
        .engine.evaluate([
          { timestamp: Date.now(), level: "info", message: "pub-marker", source: "s", fields: {} },
        ]);
      expect(await got).toBe(channel);
    } finally {
      subscriber.disconnect();
    }
  });
});
