/**
 * The official MCP client over Streamable HTTP against a listening server with real Redis, for both protocol
 * revisions: list tools, call every tool, read the resources, scope and auth errors.
 */
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
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
import { mcpExtension } from "./mcp-extension.ts";

let redis: RedisServerHandle;
let server: AlertingApp;
let url: URL;
/** The seeded logs are two hours old, away from the logs the tests add live. */
const t0 = Date.now() - 7_200_000;
const seeded = { from: t0 - 60_000, to: t0 + 120_000 };

const TOOLS = [
  "ack_alert",
  "create_rule",
  "get_log_context",
  "get_log_stats",
  "list_alerts",
  "list_dead_letters",
  "list_rules",
  "search_logs",
  "test_rule",
];

async function connect(version: "2026-07-28" | "2025-11-25", key: string): Promise<Client> {
  const client = new Client(
    { name: "neurallog-test", version: "1.0.0" },
    version === "2026-07-28" ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {},
  );
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: bearer(key) } });
  await client.connect(transport);
  return client;
}

// Tool results are JSON of many shapes; the tests check them field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function json(result: Awaited<ReturnType<Client["callTool"]>>): Json {
  const first = (result.content as { type: string; text: string }[])[0]!;
  expect(result.isError, first.text).toBeFalsy();
  return JSON.parse(first.text);
}

beforeAll(async () => {
  redis = await startRedisServer();
  server = await startAlertingApp(redis.url, { sweepIntervalMs: 200 }, (ctx, alerting) => [
    mcpExtension(ctx, alerting.alerting),
  ]);
  const address = await server.app.listen({ port: 0, host: "127.0.0.1" });
  url = new URL(`${address}/mcp`);
  const logs = Array.from({ length: 40 }, (_, i) => ({
    timestamp: t0 + i * 1_000,
    level: i % 10 === 9 ? "error" : "info",
    message: i === 20 ? `huge ${"x".repeat(5_000)}` : `request ${i} handled`,
    service: i % 2 ? "api" : "worker",
    "http.status": i % 10 === 9 ? 500 : 200,
  }));
  const res = await server.app.inject({
    method: "POST",
    url: "/api/v1/logs",
    headers: { ...bearer(INGEST_KEY), "content-type": "application/x-ndjson" },
    payload: logs.map((l) => JSON.stringify(l)).join("\n"),
  });
  expect(res.statusCode, res.body).toBeLessThan(300);
});
afterAll(async () => {
  await server?.close();
  await redis?.stop();
});

describe.each(["2026-07-28", "2025-11-25"] as const)("MCP over Streamable HTTP, protocol %s", (version) => {
  it("lists the tools and resources and calls every tool", async () => {
    const client = await connect(version, ADMIN_KEY);
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe(version);
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(TOOLS);
      const create = tools.find((t) => t.name === "create_rule")!;
      expect(JSON.stringify(create.inputSchema)).toContain("flatline");

      const search = json(
        await client.callTool({ name: "search_logs", arguments: { level: "error", limit: 2, ...seeded } }),
      );
      expect(search.entries).toHaveLength(2);
      expect(search.entries[0].level).toBe("error");
      expect(search.nextCursor).toBeTruthy();
      const huge = json(await client.callTool({ name: "search_logs", arguments: { q: "huge" } }));
      expect(huge.entries[0].message).toMatch(/…\[truncated \d+ chars\]$/);
      expect(huge.entries[0].message.length).toBeLessThan(1_100);

      const stats = json(await client.callTool({ name: "get_log_stats", arguments: seeded }));
      expect(stats.total).toBe(40);
      expect(stats.byLevel.error).toBe(4);

      const context = json(
        await client.callTool({
          name: "get_log_context",
          arguments: { id: huge.entries[0].id, before: 2, after: 3 },
        }),
      );
      expect(context.before.map((e: { message: string }) => e.message)).toEqual([
        "request 18 handled",
        "request 19 handled",
      ]);
      expect(context.after).toHaveLength(3);

      const ruleId = `mcp-${version.replaceAll("-", "")}`;
      const rule = {
        id: ruleId,
        name: "server errors",
        type: "frequency",
        when: { field: "http.status", gte: 500 },
        window: "1m",
        threshold: 2,
      };
      const tested = json(await client.callTool({ name: "test_rule", arguments: { rule, ...seeded } }));
      expect(tested.logsEvaluated).toBe(40);
      expect(tested.wouldFire).toBe(1);
      const created = json(await client.callTool({ name: "create_rule", arguments: { rule } }));
      expect(created.id).toBe(ruleId);
      const rules = json(await client.callTool({ name: "list_rules", arguments: {} }));
      expect(rules.rules.map((r: { id: string }) => r.id)).toContain(ruleId);
      const dead = json(await client.callTool({ name: "list_dead_letters", arguments: { limit: 5 } }));
      expect(dead.deadLetters).toEqual([]); // no action failed here (dead-letters.test.ts fills them)

      const bad = await client.callTool({
        name: "create_rule",
        arguments: { rule: { name: "x", type: "frequency" } },
      });
      expect(bad.isError).toBe(true);
      expect(JSON.stringify(bad.content)).toMatch(/\/window: required/);

      // test_rule runs user patterns with the same linear-time engine and refuses what RE2 cannot express.
      const attack = json(
        await client.callTool({
          name: "test_rule",
          arguments: {
            rule: { name: "attack", type: "any", when: { field: "message", regex: "^(.|.)*QQQQ$" } },
            ...seeded,
          },
        }),
      );
      expect(attack.logsEvaluated).toBe(40);
      expect(attack.wouldFire).toBe(0);
      const lookaround = await client.callTool({
        name: "test_rule",
        arguments: { rule: { name: "look", type: "any", when: { regex: "(?<=a)b" } }, ...seeded },
      });
      expect(lookaround.isError).toBe(true);
      expect(JSON.stringify(lookaround.content)).toMatch(
        /when\/regex: unsupported regular expression: lookahead and lookbehind/,
      );

      // Two new errors fire the new rule live; then list and acknowledge the alert.
      await server.app.inject({
        method: "POST",
        url: "/api/v1/logs",
        headers: { ...bearer(INGEST_KEY), "content-type": "application/x-ndjson" },
        payload: [1, 2]
          .map(() => JSON.stringify({ level: "error", message: "boom", "http.status": 503 }))
          .join("\n"),
      });
      const alerts = json(
        await client.callTool({ name: "list_alerts", arguments: { ruleId, status: "firing" } }),
      );
      expect(alerts.alerts).toHaveLength(1);
      const acked = json(
        await client.callTool({ name: "ack_alert", arguments: { id: alerts.alerts[0].id } }),
      );
      expect(acked.acknowledgedBy).toBe("mcp");

      const resources = await client.listResources();
      expect(resources.resources.map((r) => r.uri).sort()).toEqual([
        "neurallog://alerts/recent",
        "neurallog://rules",
      ]);
      const ruleSet = await client.readResource({ uri: "neurallog://rules" });
      expect((ruleSet.contents[0] as { text: string }).text).toContain(ruleId);
    } finally {
      await client.close();
    }
  });

  it("enforces scopes per tool", async () => {
    const client = await connect(version, READ_KEY);
    try {
      const denied = await client.callTool({ name: "ack_alert", arguments: { id: "1" } });
      expect(denied.isError).toBe(true);
      expect(JSON.stringify(denied.content)).toMatch(/needs an API key with the \\"admin\\" scope/);
      expect(
        json(await client.callTool({ name: "list_alerts", arguments: {} })).alerts.length,
      ).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it("rejects a client without a key: 401 with WWW-Authenticate", async () => {
    const client = new Client(
      { name: "anonymous", version: "1.0.0" },
      version === "2026-07-28" ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {},
    );
    await expect(client.connect(new StreamableHTTPClientTransport(url))).rejects.toThrow(/401|Unauthorized/i);
    const raw = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(raw.status).toBe(401);
    expect(raw.headers.get("www-authenticate")).toMatch(/^Bearer/);
  });
});
