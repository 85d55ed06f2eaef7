import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startRedisServer, type RedisServerHandle } from "../../../test/support/redis-server.ts";
import { AlertStore } from "./alert-store.ts";
import type { LogEntry, LogLevel } from "../../logs/log-entry.ts";
import { ruleKeys } from "./keys.ts";
import { RuleEngine } from "./rule-engine.ts";
import type { Rule } from "../../../contracts/rules/rule-schema.ts";
import { withRuleScripts } from "./rule-state-script.ts";
import { validateRule } from "../../../contracts/rules/rule-validation.ts";

const T0 = 1_800_000_000_000;
const keys = ruleKeys("engine");
let redis: RedisServerHandle;
let client: Redis;
let engine: RuleEngine;
let alerts: AlertStore;

function log(partial: Partial<LogEntry> & { fields?: Record<string, string | number> } = {}): LogEntry {
  return {
    timestamp: T0,
    level: "info" as LogLevel,
    message: "hello",
    source: "api",
    fields: {},
    ...partial,
  };
}

function rule(input: Record<string, unknown>): Rule {
  return validateRule({ name: `rule ${String(input.type)}`, ...input }, { origin: "api", now: T0 });
}

async function queued(): Promise<string[]> {
  const jobs = await client.xrange(keys.actionQueue, "-", "+");
  return jobs.map(([, f]) => `${f[1]}:${f[3]}`);
}

beforeAll(async () => {
  redis = await startRedisServer();
  client = new Redis(redis.url);
  alerts = new AlertStore(client, keys);
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});
beforeEach(async () => {
  await client.flushall();
  engine = new RuleEngine({ redis: withRuleScripts(client), keys });
});

describe("rule types fire and resolve", () => {
  it("any: fires on a match, records one alert per group, resolves after resolveAfter", async () => {
    engine.setRules([
      rule({ id: "any1", type: "any", when: { level: "error" }, groupBy: ["source"], resolveAfter: "1m" }),
    ]);
    expect(await engine.evaluate([log(), log({ level: "debug" })], T0)).toEqual([]);
    const fired = await engine.evaluate(
      [log({ level: "error" }), log({ level: "fatal" }), log({ level: "error", source: "db" })],
      T0,
    );
    expect(fired).toHaveLength(2);
    expect(await engine.evaluate([log({ level: "error" })], T0 + 1000)).toEqual([]);
    const firing = await alerts.list({ status: "firing" });
    expect(firing.alerts.map((a) => a.group.source).sort()).toEqual(["api", "db"]);
    expect(firing.alerts.find((a) => a.group.source === "api")?.count).toBe(2);
    expect(await engine.sweep(T0 + 30_000)).toEqual({ fired: 0, resolved: 0 });
    expect(await engine.sweep(T0 + 61_001)).toEqual({ fired: 0, resolved: 2 });
    expect(await queued()).toEqual(["1:firing", "2:firing", "1:resolved", "2:resolved"]);
  });

  it("frequency: fires at N matches in the sliding window, resolves when the window drains", async () => {
    engine.setRules([
      rule({ id: "freq", type: "frequency", when: { contains: "timeout" }, window: "1m", threshold: 3 }),
    ]);
    await engine.evaluate([log({ message: "db timeout" }), log({ message: "db timeout" })], T0);
    expect((await alerts.list()).alerts).toHaveLength(0);
    await engine.evaluate([log({ message: "ok" })], T0 + 10_000);
    const fired = await engine.evaluate(
      [log({ message: "TIMEOUT", fields: {} }), log({ message: "a timeout" })],
      T0 + 20_000,
    );
    expect(fired).toHaveLength(1);
    expect((await alerts.get(fired[0]!))?.reason).toMatch(/3 matches in window/);
    expect((await engine.sweep(T0 + 50_000)).resolved).toBe(0);
    expect((await engine.sweep(T0 + 62_000)).resolved).toBe(1);
  });

  it("flatline: fires from the timer when fewer than N logs arrive, resolves when they are back", async () => {
    engine.setRules([
      rule({
        id: "flat",
        type: "flatline",
        when: { field: "source", equals: "billing" },
        window: "10s",
        threshold: 2,
      }),
    ]);
    expect((await engine.sweep(T0 + 5_000)).fired).toBe(0); // the window has not elapsed since the rule exists
    expect((await engine.sweep(T0 + 11_000)).fired).toBe(1);
    expect((await engine.sweep(T0 + 12_000)).fired).toBe(0); // deduplicated while firing
    await engine.evaluate([log({ source: "billing" }), log({ source: "billing" })], T0 + 13_000);
    expect((await engine.sweep(T0 + 14_000)).resolved).toBe(1);
    expect(await queued()).toEqual(["1:firing", "1:resolved"]);
  });

  it("spike up: the window's count against the previous window, with a minimum count", async () => {
    engine.setRules([
      rule({ id: "sp", type: "spike", when: { level: "error" }, window: "10s", ratio: 3, minCount: 5 }),
    ]);
    const errors = (n: number) => Array.from({ length: n }, () => log({ level: "error" }));
    await engine.evaluate(errors(2), T0 + 12_000); // previous window: 2
    expect(await engine.evaluate(errors(4), T0 + 22_000)).toEqual([]); // 4 < minCount
    expect(await engine.evaluate(errors(2), T0 + 23_000)).toHaveLength(1); // 6 >= 3 * 2 and >= 5
    expect((await engine.sweep(T0 + 45_000)).resolved).toBe(1);
  });

  it("spike down: a drop to a third of the previous window fires from the timer", async () => {
    engine.setRules([
      rule({ id: "spd", type: "spike", window: "10s", direction: "down", ratio: 3, minCount: 6 }),
    ]);
    await engine.evaluate(
      Array.from({ length: 9 }, () => log()),
      T0 + 11_000,
    );
    expect((await engine.sweep(T0 + 19_000)).fired).toBe(0); // not two windows old yet
    expect((await engine.sweep(T0 + 21_000)).fired).toBe(1); // no logs at all now: 0 * 3 <= 9
    await engine.evaluate([log(), log()], T0 + 22_000);
    expect((await engine.sweep(T0 + 22_000)).resolved).toBe(0); // 2 * 3 <= 9 still
    await engine.evaluate(
      Array.from({ length: 9 }, () => log()),
      T0 + 29_000,
    );
    expect((await engine.sweep(T0 + 29_500)).resolved).toBe(1);
  });

  it("new_value: first sighting of a value per group fires, repeats do not", async () => {
    engine.setRules([
      rule({ id: "nv", type: "new_value", field: "user", groupBy: ["source"], resolveAfter: "1m" }),
    ]);
    const fired = await engine.evaluate(
      [log({ fields: { user: "ann" } }), log({ fields: { user: "bob" } }), log({ fields: { user: "ann" } })],
      T0,
    );
    expect(fired).toHaveLength(2);
    expect(
      await engine.evaluate([log({ fields: { user: "ann" } }), log({ fields: {} })], T0 + 1_000),
    ).toEqual([]);
    expect(await engine.evaluate([log({ source: "db", fields: { user: "ann" } })], T0 + 1_000)).toHaveLength(
      1,
    );
    expect((await engine.sweep(T0 + 70_000)).resolved).toBe(3);
  });

  it("cardinality above and below", async () => {
    engine.setRules([
      rule({ id: "card-hi", type: "cardinality", field: "ip", window: "1m", threshold: 2 }),
      rule({ id: "card-lo", type: "cardinality", field: "ip", window: "10s", threshold: 2, op: "below" }),
    ]);
    const ips = (...v: string[]) => v.map((ip) => log({ fields: { ip } }));
    expect(await engine.evaluate(ips("a", "b", "a"), T0 + 1_000)).toEqual([]);
    expect(await engine.evaluate(ips("c"), T0 + 2_000)).toHaveLength(1);
    expect((await engine.sweep(T0 + 5_000)).fired).toBe(0);
    expect((await engine.sweep(T0 + 20_000)).fired).toBe(1); // ips older than 10s: 0 distinct < 2
    expect((await engine.sweep(T0 + 70_000)).resolved).toBe(1); // card-hi drained
    await engine.evaluate(ips("x", "y"), T0 + 71_000);
    expect((await alerts.list({ ruleId: "card-lo", status: "firing" })).alerts).toHaveLength(1);
    expect((await engine.sweep(T0 + 72_000)).resolved).toBe(1);
  });

  it("change: a field's value changing for a group fires, with from and to", async () => {
    engine.setRules([
      rule({ id: "chg", type: "change", field: "version", groupBy: ["source"], resolveAfter: "1m" }),
    ]);
    expect(await engine.evaluate([log({ fields: { version: "1.0" } })], T0)).toEqual([]);
    expect(
      await engine.evaluate(
        [log({ fields: { version: "1.0" } }), log({ source: "db", fields: { version: "2" } })],
        T0,
      ),
    ).toEqual([]);
    const fired = await engine.evaluate([log({ fields: { version: "1.1" } })], T0 + 1_000);
    expect(fired).toHaveLength(1);
    expect((await alerts.get(fired[0]!))?.reason).toBe("version changed from 1.0 to 1.1");
    expect((await engine.sweep(T0 + 62_000)).resolved).toBe(1);
  });

  it("aggregate: avg and p90 over a window against a threshold", async () => {
    engine.setRules([
      rule({
        id: "avg",
        type: "aggregate",
        field: "latency_ms",
        aggregation: "avg",
        window: "1m",
        threshold: 100,
      }),
      rule({
        id: "p90",
        type: "aggregate",
        field: "latency_ms",
        aggregation: "percentile",
        percentile: 90,
        window: "1m",
        threshold: 500,
      }),
    ]);
    const lat = (...v: number[]) => v.map((latency_ms) => log({ fields: { latency_ms } }));
    expect(await engine.evaluate(lat(10, 20, 30, 40, 50, 60, 70, 80, 90), T0)).toEqual([]);
    const fired = await engine.evaluate(lat(900), T0 + 1_000);
    expect(fired).toHaveLength(1); // avg 140 > 100; p90 of ten values is 90
    expect((await alerts.get(fired[0]!))?.ruleId).toBe("avg");
    expect(await engine.evaluate(lat(800, 700), T0 + 2_000)).toHaveLength(1); // p90 now 800
    expect((await engine.sweep(T0 + 63_000)).resolved).toBe(2);
  });
});

describe("alert lifecycle", () => {
  it("re-notifies a still-firing alert after the realert interval, not before; ack stops it", async () => {
    engine.setRules([
      rule({ id: "re", type: "any", when: { level: "error" }, realert: "10s", resolveAfter: "1h" }),
    ]);
    const [id] = await engine.evaluate([log({ level: "error" })], T0);
    await engine.evaluate([log({ level: "error" })], T0 + 5_000);
    await engine.evaluate([log({ level: "error" })], T0 + 11_000);
    expect(await queued()).toEqual(["1:firing", "1:firing"]);
    await alerts.acknowledge(id!, "ops", T0 + 12_000);
    await engine.evaluate([log({ level: "error" })], T0 + 30_000);
    expect(await queued()).toHaveLength(2);
    expect((await alerts.get(id!))?.acknowledged).toBe(true);
  });

  it("a silenced rule records alerts without notifying", async () => {
    engine.setRules([rule({ id: "quiet", type: "any", resolveAfter: "1s" })]);
    await alerts.silence("quiet", T0 + 60_000);
    const [id] = await engine.evaluate([log()], T0);
    expect((await alerts.get(id!))?.silenced).toBe(true);
    await engine.sweep(T0 + 5_000);
    expect(await queued()).toEqual([]);
    expect((await alerts.get(id!))?.status).toBe("resolved");
    await engine.evaluate([log()], T0 + 61_000);
    expect(await queued()).toEqual(["2:firing"]);
  });

  it("pages through a burst of alerts fired in the same millisecond without losing any", async () => {
    engine.setRules([rule({ id: "burst", type: "any", groupBy: ["source"] })]);
    const sources = Array.from({ length: 25 }, (_, i) => `svc-${i}`);
    expect(
      await engine.evaluate(
        sources.map((source) => log({ source })),
        T0,
      ),
    ).toHaveLength(25);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const result = await alerts.list({ limit: 7, ...(cursor ? { cursor } : {}) });
      seen.push(...result.alerts.map((a) => String(a.group.source)));
      cursor = result.nextCursor;
      if (!cursor) break;
    }
    expect(seen.sort()).toEqual([...sources].sort());
  });

  it("disabling or deleting a rule resolves its alerts", async () => {
    const r = rule({ id: "gone", type: "any", resolveAfter: "1h" });
    engine.setRules([r]);
    await engine.evaluate([log()], T0);
    engine.setRules([{ ...r, enabled: false }]);
    expect((await engine.sweep(T0 + 1_000)).resolved).toBe(1);
    engine.setRules([r]);
    await engine.evaluate([log()], T0 + 2_000);
    engine.setRules([]);
    expect((await engine.sweep(T0 + 3_000)).resolved).toBe(1);
  });
});
