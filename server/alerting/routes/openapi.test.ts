import { afterAll, beforeAll, expect, it } from "vitest";
import { startRedisServer, type RedisServerHandle } from "../../../test/support/redis-server.ts";
import { mcpExtension } from "../../mcp/mcp-extension.ts";
import { startAlertingApp, type AlertingApp } from "../../../test/support/alerting-harness.ts";

let redis: RedisServerHandle;
let app: AlertingApp;
beforeAll(async () => {
  redis = await startRedisServer();
  app = await startAlertingApp(redis.url, {}, (ctx, alerting) => [mcpExtension(ctx, alerting.alerting)]);
});
afterAll(async () => {
  await app?.close();
  await redis?.stop();
});

it("documents the rules, alerts, dead-letter and MCP routes in the OpenAPI document, with the rule schema", async () => {
  const res = await app.app.inject({ url: "/docs/json" });
  expect(res.statusCode).toBe(200);
  const doc = res.json() as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
  for (const path of [
    "/api/v1/rules",
    "/api/v1/rules/test",
    "/api/v1/rules/{id}",
    "/api/v1/rules/{id}/history",
    "/api/v1/alerts",
    "/api/v1/alerts/{id}/ack",
    "/api/v1/dead-letters",
    "/api/v1/dead-letters/{id}/replay",
    "/api/v1/dead-letters/{id}",
    "/mcp",
  ]) {
    expect(Object.keys(doc.paths)).toContain(path);
  }
  expect(JSON.stringify(doc.paths["/api/v1/rules"]!.post!.requestBody)).toContain("cardinality");
});
