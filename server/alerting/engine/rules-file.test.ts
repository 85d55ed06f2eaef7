/** Rules from git (the tenant file, via NEURALLOG_RULES_FILE): loaded at start, read-only through the API. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisServer, type RedisServerHandle } from "../../../test/support/redis-server.ts";
import {
  ADMIN_KEY,
  INGEST_KEY,
  READ_KEY,
  bearer,
  eventually,
  startAlertingApp,
  type AlertingApp,
} from "../../../test/support/alerting-harness.ts";
import { dedicatedConnection } from "../actions/dedicated-connection.ts";
import { loadRulesFile } from "./rule-store.ts";

let redis: RedisServerHandle;
let dir: string;
let app: AlertingApp;

const gitRules = `
- id: db-down
  name: database unreachable
  type: any
  when: { all: [{ level: error }, { contains: "connection refused", ignoreCase: true }] }
  groupBy: [source]
  actions:
    - type: pubsub
    - type: slack
      url: http://127.0.0.1:9/unreachable
      maxAttempts: 1
`;

beforeAll(async () => {
  redis = await startRedisServer();
  dir = await mkdtemp(join(tmpdir(), "nl-rules-file-"));
  await writeFile(join(dir, "rules.yaml"), gitRules);
  app = await startAlertingApp(redis.url, {
    rulesFile: join(dir, "rules.yaml"),
    sweepIntervalMs: 100,
    worker: { blockMs: 100 },
  });
});
afterAll(async () => {
  await app?.close();
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("rules from git", () => {
  it("are listed with origin git and cannot be changed or deleted through the API", async () => {
    const list = await app.app.inject({ url: "/api/v1/rules", headers: bearer(READ_KEY) });
    expect(list.json().rules).toMatchObject([{ id: "db-down", origin: "git" }]);
    const put = await app.app.inject({
      method: "PUT",
      url: "/api/v1/rules/db-down",
      headers: bearer(ADMIN_KEY),
      payload: { name: "x", type: "any" },
    });
    expect(put.statusCode).toBe(409);
    expect(put.json().message).toMatch(/defined in the tenant file in git; change it there/);
    const del = await app.app.inject({
      method: "DELETE",
      url: "/api/v1/rules/db-down",
      headers: bearer(ADMIN_KEY),
    });
    expect(del.statusCode).toBe(409);
    const clash = await app.app.inject({
      method: "POST",
      url: "/api/v1/rules",
      headers: bearer(ADMIN_KEY),
      payload: { id: "db-down", name: "x", type: "any" },
    });
    expect(clash.statusCode).toBe(409);
  });

  it("fire, and the pubsub action publishes the notification", async () => {
    const subscriber = await dedicatedConnection(app.redis, "test-subscriber");
    const messages: string[] = [];
    subscriber.on("message", (_channel, message: string) => messages.push(message));
    await subscriber.subscribe("nl:{acme}:alerts:events");
    try {
      // The Slack target is unreachable; its retries must not hold up the pub/sub action of the same alert.
      const res = await app.app.inject({
        method: "POST",
        url: "/api/v1/logs",
        headers: { ...bearer(INGEST_KEY), "content-type": "application/x-ndjson" },
        payload:
          JSON.stringify({ level: "error", message: "Connection REFUSED by db:5432", service: "orders" }) +
          "\n",
      });
      expect(res.statusCode, res.body).toBeLessThan(300);
      const [message] = await eventually(() => messages.length > 0 && messages);
      const n = JSON.parse(message!);
      expect(n).toMatchObject({
        event: "firing",
        tenant: "acme",
        alert: { ruleId: "db-down", group: { source: "orders" } },
      });
      expect(n.alert.example.message).toBe("Connection REFUSED by db:5432");
    } finally {
      subscriber.disconnect();
    }
  });

  it("report every problem of a bad rules file with its index and field", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(
      bad,
      JSON.stringify([
        { name: "no id", type: "any" },
        { id: "x", name: "x", type: "frequency", when: { regex: "(?<!a)b" } },
      ]),
    );
    await expect(loadRulesFile(bad)).rejects.toThrow(
      /\[0\]\/id: rules from git need a stable id[\s\S]*\[1\]\/when\/regex: unsupported regular expression: lookahead and lookbehind[\s\S]*\[1\]\/window: required/,
    );
  });
});
