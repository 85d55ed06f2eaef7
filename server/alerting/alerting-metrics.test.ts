/**
 * The alerting metrics Prometheus alerts and the platform dashboard read (charts-src/constructs/monitoring*):
 * alerts fired, counted once per opened alert. A real Redis, the real app, its /metrics text.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisServer, type RedisServerHandle } from "../../test/support/redis-server.ts";
import {
  ADMIN_KEY,
  INGEST_KEY,
  READ_KEY,
  bearer,
  startAlertingApp,
  type AlertingApp,
} from "../../test/support/alerting-harness.ts";

let redis: RedisServerHandle;
let app: AlertingApp;

beforeAll(async () => {
  redis = await startRedisServer();
  app = await startAlertingApp(redis.url, { sweepIntervalMs: 60_000 });
});
afterAll(async () => {
  await app?.close();
  await redis?.stop();
});

async function firedTotal(): Promise<number> {
  const text = (await app.app.inject({ url: "/metrics" })).body;
  const line = text.split("\n").find((l) => l.startsWith("neurallog_alerts_fired_total "));
  if (line === undefined) throw new Error("neurallog_alerts_fired_total is not in /metrics");
  return Number(line.split(" ")[1]);
}

describe("neurallog_alerts_fired_total", () => {
  it("counts each alert a batch opens, and nothing for matches of an alert already open", async () => {
    const rule = await app.app.inject({
      method: "POST",
      url: "/api/v1/rules",
      headers: bearer(ADMIN_KEY),
      payload: {
        id: "per-user",
        name: "per user",
        type: "any",
        groupBy: ["user"],
        when: { contains: "boom" },
      },
    });
    expect(rule.statusCode, rule.body).toBe(201);
    expect(await firedTotal()).toBe(0);

    const ingest = async (users: string[]): Promise<void> => {
      const res = await app.app.inject({
        method: "POST",
        url: "/api/v1/logs",
        headers: { ...bearer(INGEST_KEY), "content-type": "application/x-ndjson" },
        payload: users.map((user) => JSON.stringify({ level: "error", message: "boom", user })).join("\n"),
      });
      expect(res.statusCode, res.body).toBeLessThan(300);
    };
    // Three groups, one of them matched twice: three alerts.
    await ingest(["ann", "bob", "cyd", "ann"]);
    const alerts = await app.app.inject({ url: "/api/v1/alerts?ruleId=per-user", headers: bearer(READ_KEY) });
    expect(alerts.json().alerts).toHaveLength(3);
    expect(await firedTotal()).toBe(3);
    // The same groups again while their alerts are open: no new alert, no new count.
    await ingest(["bob", "cyd"]);
    expect(await firedTotal()).toBe(3);
  });
});
