/**
 * Two server replicas sharing one real Redis, a real HTTP webhook receiver: one alert and one delivery per firing,
 * signed; resolution delivered once; retries with backoff against failing and hanging receivers.
 */
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisServer, type RedisServerHandle } from "../../test/support/redis-server.ts";
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

const SECRET = "webhook-secret-0123456789";
let redis: RedisServerHandle;
let a: AlertingApp;
let b: AlertingApp;
let hook: WebhookReceiver;

const options = {
  sweepIntervalMs: 100,
  worker: { baseBackoffMs: 100, maxBackoffMs: 1_000, claimIdleMs: 5_000, blockMs: 100 },
  // The receiver listens on loopback, which webhooks reach only through the tenant's allow-list.
  allowInternalWebhooks: ["127.0.0.1/32"],
};

function ingest(app: AlertingApp, records: object[]) {
  return app.app.inject({
    method: "POST",
    url: "/api/v1/logs",
    headers: { ...bearer(INGEST_KEY), "content-type": "application/x-ndjson" },
    payload: records.map((r) => JSON.stringify(r)).join("\n"),
  });
}

async function createRule(app: AlertingApp, rule: object) {
  const res = await app.app.inject({
    method: "POST",
    url: "/api/v1/rules",
    headers: bearer(ADMIN_KEY),
    payload: rule,
  });
  expect(res.statusCode, res.body).toBe(201);
  const id = res.json().id as string;
  // The other replica learns about the rule through pub/sub.
  for (const replica of [a, b]) await eventually(() => replica.alerting.alerting().store.get(id));
  return id;
}

beforeAll(async () => {
  redis = await startRedisServer();
  hook = await startWebhookReceiver();
  a = await startAlertingApp(redis.url, options);
  b = await startAlertingApp(redis.url, options);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await hook?.close();
  await redis?.stop();
});

describe("two replicas, one Redis", () => {
  it("fire exactly one alert and one signed webhook per firing, and one resolution", async () => {
    const id = await createRule(a, {
      id: "payments-errors",
      name: "payment errors",
      type: "frequency",
      when: { all: [{ level: "error" }, { field: "source", equals: "payments" }] },
      window: "2s",
      threshold: 4,
      severity: "critical",
      actions: [{ type: "webhook", url: hook.url, secret: SECRET }],
    });
    const error = { level: "error", message: "card declined", service: "payments" };
    const results = await Promise.all([
      ingest(a, [error, error]),
      ingest(b, [error, error]),
      ingest(a, [error]),
      ingest(b, [error]),
    ]);
    for (const res of results) expect(res.statusCode, res.body).toBeLessThan(300);

    const delivered = await eventually(() => hook.received.length >= 1 && hook.received);
    const firing = JSON.parse(delivered[0]!.body);
    expect(firing).toMatchObject({
      event: "firing",
      tenant: "acme",
      alert: { ruleId: id, status: "firing", severity: "critical" },
    });
    const [t, v1] = String(delivered[0]!.headers["x-neurallog-signature"]).split(",");
    const expected = createHmac("sha256", SECRET)
      .update(`${t!.slice(2)}.${delivered[0]!.body}`)
      .digest("hex");
    expect(v1).toBe(`v1=${expected}`);

    const list = await b.app.inject({ url: `/api/v1/alerts?ruleId=${id}`, headers: bearer(READ_KEY) });
    expect(list.json().alerts).toHaveLength(1);

    // The window drains after 2 s; the sweep of either replica resolves the alert, once.
    await eventually(() => hook.received.length >= 2, 15_000);
    const resolved = JSON.parse(hook.received[1]!.body);
    expect(resolved).toMatchObject({ event: "resolved", alert: { id: firing.alert.id, status: "resolved" } });
    // Give any duplicate (another replica's sweep, a redelivered job) the chance to show up.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(hook.received.map((r) => JSON.parse(r.body).event)).toEqual(["firing", "resolved"]);

    const history = await a.app.inject({ url: `/api/v1/rules/${id}/history`, headers: bearer(READ_KEY) });
    expect(history.json().events.map((e: { event: string }) => e.event)).toEqual(["resolved", "fired"]);
    expect(history.json().deliveries.every((d: { ok: boolean }) => d.ok)).toBe(true);
  });

  it("retry a webhook that answers 500 and one that hangs, with growing backoff, and log every attempt", async () => {
    hook.received.length = 0;
    hook.respond = (_req, index, res) => {
      if (index === 0) return; // hangs: the client times out
      if (index < 3) return void res.writeHead(500).end("boom");
      res.writeHead(204).end();
    };
    await createRule(b, {
      id: "retry-me",
      name: "retry me",
      type: "any",
      when: { contains: "retry-marker" },
      actions: [{ type: "webhook", url: hook.url, timeout: "300ms", maxAttempts: 5 }],
    });
    expect((await ingest(a, [{ level: "warn", message: "retry-marker here" }])).statusCode).toBeLessThan(300);
    await eventually(() => hook.received.length >= 4, 15_000);
    const gaps = hook.received.slice(1).map((r, i) => r.at - hook.received[i]!.at);
    // attempt 2 follows the 300 ms timeout plus >= 50 ms backoff; later gaps follow backoff (>= 100, >= 200 ms)
    expect(gaps[0]).toBeGreaterThanOrEqual(300);
    expect(gaps[2]).toBeGreaterThanOrEqual(100);
    expect(new Set(hook.received.map((r) => r.headers["x-neurallog-delivery"])).size).toBe(1);

    const alerts = await a.app.inject({ url: "/api/v1/alerts?ruleId=retry-me", headers: bearer(READ_KEY) });
    const alertId = alerts.json().alerts[0].id;
    const detail = await eventually(async () => {
      const res = await a.app.inject({ url: `/api/v1/alerts/${alertId}`, headers: bearer(READ_KEY) });
      const body = res.json() as { deliveries: { ok: boolean; error?: string; status?: number }[] };
      return body.deliveries.length === 4 && body;
    });
    const attempts = [...detail.deliveries].reverse();
    expect(attempts.map((d: { ok: boolean }) => d.ok)).toEqual([false, false, false, true]);
    // The history says no more than "no response": connect details would tell a read key which ports are open.
    expect(attempts[0]?.error).toBe("delivery failed: no HTTP response");
    expect(attempts[1]?.status).toBe(500);
    hook.respond = (_r, _i, res) => res.writeHead(200).end("ok");
  });
});

describe("rules API", () => {
  it("names the invalid field, refuses regexes RE2 cannot run, needs admin to write", async () => {
    const post = (payload: object, key = ADMIN_KEY) =>
      a.app.inject({ method: "POST", url: "/api/v1/rules", headers: bearer(key), payload });
    const missing = await post({ name: "x", type: "frequency", when: { level: "error" } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().message).toMatch(/\/window: required for type frequency/);
    const unknown = await post({
      name: "x",
      type: "any",
      when: { all: [{ level: "error", colour: "red" }] },
    });
    expect(unknown.json().message).toMatch(/\/when\/all\/0\/colour: unknown property/);
    const backref = await post({
      name: "x",
      type: "any",
      when: { any: [{ level: "error" }, { regex: "(a)\\1" }] },
    });
    expect(backref.statusCode).toBe(400);
    expect(backref.json().message).toMatch(
      /\/when\/any\/1\/regex: unsupported regular expression: backreferences/,
    );
    expect((await post({ name: "x", type: "any" }, READ_KEY)).statusCode).toBe(403);
    const anonymous = await a.app.inject({ url: "/api/v1/rules" });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers["www-authenticate"]).toMatch(/Bearer/);
  });

  it("updates and deletes API rules, and hides webhook secrets", async () => {
    await createRule(a, {
      id: "crud",
      name: "crud",
      type: "any",
      actions: [{ type: "webhook", url: hook.url, secret: SECRET }],
    });
    const got = await b.app.inject({ url: "/api/v1/rules/crud", headers: bearer(READ_KEY) });
    expect(JSON.stringify(got.json())).not.toContain(SECRET);
    const updated = await b.app.inject({
      method: "PUT",
      url: "/api/v1/rules/crud",
      headers: bearer(ADMIN_KEY),
      payload: {
        ...(got.json() as object),
        id: undefined,
        origin: undefined,
        createdAt: undefined,
        updatedAt: undefined,
        actions: [{ type: "webhook", url: hook.url }],
        name: "renamed",
      },
    });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json().name).toBe("renamed");
    expect(b.alerting.alerting().store.get("crud")?.actions?.[0]?.secret).toBe(SECRET); // kept on replace
    const del = await a.app.inject({
      method: "DELETE",
      url: "/api/v1/rules/crud",
      headers: bearer(ADMIN_KEY),
    });
    expect(del.statusCode).toBe(204);
    expect((await a.app.inject({ url: "/api/v1/rules/crud", headers: bearer(READ_KEY) })).statusCode).toBe(
      404,
    );
  });

  it("tests a rule over stored logs of a time range", async () => {
    const t0 = Date.now() - 3_600_000;
    const logs = Array.from({ length: 30 }, (_, i) => ({
      timestamp: t0 + i * 1_000,
      level: i >= 10 && i < 15 ? "error" : "info",
      message: `request ${i}`,
      service: "checkout",
    }));
    expect((await ingest(a, logs)).statusCode).toBeLessThan(300);
    const res = await a.app.inject({
      method: "POST",
      url: "/api/v1/rules/test",
      headers: bearer(READ_KEY),
      payload: {
        rule: {
          name: "errors burst",
          type: "frequency",
          when: { all: [{ level: "error" }, { field: "source", equals: "checkout" }] },
          window: "10s",
          threshold: 5,
        },
        from: t0 - 1_000,
        to: t0 + 60_000,
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.logsEvaluated).toBe(30);
    expect(body.alerts).toHaveLength(1);
    expect(body.alerts[0].firedAt).toBe(t0 + 14_000);
    expect(body.alerts[0].status).toBe("resolved");
    // The replay left no keys behind.
    expect(await a.redis.keys("*ruletest*")).toEqual([]);
  });

  it("tests patterns that backtrack exponentially in RegExp with a linear engine, and the right answer", async () => {
    // Two hours back: a time range no other test writes to.
    const t0 = Date.now() - 7_200_000;
    // 27 characters froze the server for 6.7 s with a backtracking engine; RE2 answers in linear time.
    const values = ["a".repeat(27), `${"a".repeat(23)}QQQQ`, `${"1".repeat(30)}!`, "1".repeat(30)];
    const logs = values.map((x, i) => ({ timestamp: t0 + i * 1_000, level: "info", message: `v${i}`, x }));
    expect((await ingest(a, logs)).statusCode).toBeLessThan(300);
    const matched = async (regex: string) => {
      const res = await a.app.inject({
        method: "POST",
        url: "/api/v1/rules/test",
        headers: bearer(READ_KEY),
        payload: {
          rule: { name: "attack", type: "any", groupBy: ["x"], when: { field: "x", regex } },
          from: t0 - 1_000,
          to: t0 + 10_000,
        },
      });
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as { logsEvaluated: number; alerts: { firedAt: number }[] };
    };
    const dotOrDot = await matched("^(.|.)*QQQQ$");
    expect(dotOrDot.logsEvaluated).toBe(4);
    expect(dotOrDot.alerts.map((alert) => alert.firedAt)).toEqual([t0 + 1_000]);
    const wordOrDigit = await matched("^(\\w|\\d)+$");
    expect(wordOrDigit.alerts.map((alert) => alert.firedAt)).toEqual([t0, t0 + 1_000, t0 + 3_000]);
  });

  it("refuses lookaround in a rule under test, naming the rule's condition and why", async () => {
    const res = await a.app.inject({
      method: "POST",
      url: "/api/v1/rules/test",
      headers: bearer(READ_KEY),
      payload: {
        rule: { name: "look", type: "any", when: { field: "x", regex: "foo(?!bar)" } },
        from: 0,
        to: 1,
      },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(
      /when\/regex: unsupported regular expression: lookahead and lookbehind .* RE2 syntax/,
    );
  });
});
