/**
 * Each call of an MCP JSON-RPC batch counts against the key's rate limit, against a listening server and a real
 * Redis: a batch of 100 tool calls under a burst of N runs exactly N of them; the others get a JSON-RPC error each
 * (code 429, with the wait), and once nothing fits the next request is an HTTP 429 before its body is read.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_KEYS, startAlertingApp, type AlertingApp } from "../../test/support/alerting-harness.ts";
import { startRedisServer, type RedisServerHandle } from "../../test/support/redis-server.ts";
import { mcpExtension } from "./mcp-extension.ts";

const BURST = 10;
const LIMITED_KEY = "mcp-limited-key-0123456789";
const SMALL_KEY = "mcp-small-key-0123456789";
/** Refills one call in ~17 minutes: nothing refills while the test runs. */
const KEYS = JSON.stringify([
  ...JSON.parse(API_KEYS),
  {
    name: "limited",
    key: LIMITED_KEY,
    scopes: ["read"],
    rateLimit: { requestsPerSecond: 0.001, burst: BURST },
  },
  {
    name: "small",
    key: SMALL_KEY,
    scopes: ["read"],
    rateLimit: { requestsPerSecond: 0.001, burst: 2 },
  },
]);

let redis: RedisServerHandle;
let server: AlertingApp;
let url: string;

beforeAll(async () => {
  redis = await startRedisServer();
  server = await startAlertingApp(
    redis.url,
    {},
    (ctx, alerting) => [mcpExtension(ctx, alerting.alerting)],
    "acme",
    KEYS,
  );
  url = `${await server.app.listen({ port: 0, host: "127.0.0.1" })}/mcp`;
});
afterAll(async () => {
  await server?.close();
  await redis?.stop();
});

interface JsonRpcAnswer {
  readonly id: number;
  readonly result?: { readonly isError?: boolean; readonly content: { text: string }[] };
  readonly error?: {
    readonly code: number;
    readonly message: string;
    readonly data?: Record<string, unknown>;
  };
}

/** POSTs JSON-RPC messages as a 2025-03-26 client (the revision with batches) and reads every answer. */
async function post(
  body: unknown,
  key = LIMITED_KEY,
): Promise<{ status: number; retryAfter: string | null; answers: JsonRpcAnswer[] }> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-03-26",
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  const answers: JsonRpcAnswer[] = (res.headers.get("content-type") ?? "").includes("text/event-stream")
    ? text
        .split("\n")
        .filter((line) => line.startsWith("data: ") && line.length > 6)
        .map((line) => JSON.parse(line.slice(6)))
    : [JSON.parse(text)].flat();
  return { status: res.status, retryAfter: res.headers.get("retry-after"), answers };
}

const call = (id: number) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: "list_rules", arguments: {} },
});

describe("MCP batches and the key's rate limit", () => {
  it(`runs exactly ${BURST} of a batch of 100 tool calls; each of the others gets a JSON-RPC error`, async () => {
    const batch = await post(Array.from({ length: 100 }, (_, i) => call(i + 1)));
    expect(batch.status).toBe(200);
    expect(batch.answers).toHaveLength(100);
    const ran = batch.answers.filter((a) => a.result);
    const limited = batch.answers.filter((a) => a.error);
    expect(ran).toHaveLength(BURST);
    expect(ran.every((a) => !a.result!.isError)).toBe(true);
    // The first calls of the batch run, in its order.
    expect(ran.map((a) => a.id).sort((a, b) => a - b)).toEqual(
      Array.from({ length: BURST }, (_, i) => i + 1),
    );
    expect(limited).toHaveLength(100 - BURST);
    for (const a of limited) {
      expect(a.error).toMatchObject({
        code: 429,
        message: expect.stringMatching(/rate limit of the API key "limited" exceeded/),
        data: { retryAfterSeconds: expect.any(Number) },
      });
      expect(a.error!.data!.retryAfterSeconds).toBeGreaterThan(0);
    }
    expect(new Set(batch.answers.map((a) => a.id)).size).toBe(100);

    // Nothing fits any more: the next request, batch or not, is refused whole before its body is read.
    const refused = await post([call(101), call(102)]);
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
  });

  it("counts requests, not notifications", async () => {
    const cancelled = { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 0 } };
    const batch = await post([cancelled, call(1), cancelled, call(2), call(3)], SMALL_KEY);
    expect(batch.status).toBe(200);
    expect(
      batch.answers
        .filter((a) => a.result)
        .map((a) => a.id)
        .sort(),
    ).toEqual([1, 2]);
    expect(batch.answers.filter((a) => a.error).map((a) => [a.id, a.error!.code])).toEqual([[3, 429]]);
  });
});
