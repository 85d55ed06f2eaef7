/**
 * Authentication comes before the body, against a real server process and Redis: a request announcing 16 MiB with
 * a bad key (or a key without the scope) is answered while the client has sent only 64 KiB, and the server closes
 * the connection instead of reading the rest. Failed authentication is rate-limited per client address, and a
 * key that already authenticated from that address keeps working through the lockout.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisServer, type RedisServerHandle } from "../support/redis-server.ts";
import { sendPartialBody, sendRequest } from "../support/raw-http.ts";
import { SpawnedServers, type ServerProcess } from "../support/server-process.ts";
import { ADMIN_KEY, API_KEYS, INGEST_KEY, READ_KEY, bearer } from "./harness.ts";

const DECLARED = 16 * 1024 * 1024;
const SENT = 64 * 1024;

let redisServer: RedisServerHandle;
const servers = new SpawnedServers();

beforeAll(async () => {
  redisServer = await startRedisServer();
});
afterAll(async () => {
  await servers.killAll();
  await redisServer?.stop();
});

const start = (tenant: string, env: Record<string, string>): Promise<ServerProcess> =>
  servers.start({ redisUrl: redisServer.url, tenant, apiKeys: API_KEYS, env });

describe("authentication before the body", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    // This file's other test is about the failure limit; here every refusal must be a 401 or 403.
    server = await start("body", { NEURALLOG_AUTH_FAILURE_BURST: "1000" });
  });

  const bodies: [string, string][] = [
    ["/api/v1/logs", "application/x-ndjson"],
    ["/loki/api/v1/push", "application/json"],
    ["/v1/logs", "application/x-protobuf"],
    ["/_bulk", "application/x-ndjson"],
    ["/logs-x/_bulk", "application/x-ndjson"],
    ["/api/v1/rules", "application/json"],
    ["/api/v1/rules/test", "application/json"],
    ["/mcp", "application/json"],
  ];

  it.each(bodies)("POST %s with a bad key: 401 after 64 KiB of a 16 MiB body", async (path, type) => {
    const res = await sendPartialBody(server.url, {
      path,
      headers: { ...bearer("not-a-key-0123456789abcdef"), "content-type": type },
      declaredBytes: DECLARED,
      sentBytes: SENT,
    });
    expect(res.status, res.body).toBe(401);
    expect(res.headers["www-authenticate"]).toMatch(/Bearer/);
    expect(res.headers.connection).toBe("close");
    expect(JSON.parse(res.body).message).toBe("the API key is not valid");
  });

  it("answers a chunked body without a key the same way", async () => {
    const res = await sendPartialBody(server.url, {
      path: "/api/v1/logs",
      headers: { "content-type": "application/x-ndjson" },
      sentBytes: SENT,
    });
    expect(res.status, res.body).toBe(401);
    expect(JSON.parse(res.body).message).toMatch(/an API key is required/);
  });

  it("refuses a key without the scope (403) before the body", async () => {
    const res = await sendPartialBody(server.url, {
      path: "/api/v1/logs",
      headers: { ...bearer(READ_KEY), "content-type": "application/x-ndjson" },
      declaredBytes: DECLARED,
      sentBytes: SENT,
    });
    expect(res.status, res.body).toBe(403);
    expect(JSON.parse(res.body).message).toMatch(/lacks the "ingest" scope/);
  });

  it("still takes a whole body with a valid key", async () => {
    const res = await sendRequest(`${server.url}/api/v1/logs`, {
      method: "POST",
      headers: { ...bearer(INGEST_KEY), "content-type": "application/x-ndjson" },
      body: `${JSON.stringify({ msg: "x".repeat(100_000) })}\n`,
    });
    expect(res.status, res.body).toBe(200);
    expect(JSON.parse(res.body).accepted).toBe(1);
  });
});

describe("failed authentication per client address", () => {
  it("turns failures into 429 after the burst; a key known from that address still works", async () => {
    const server = await start("failures", {
      NEURALLOG_AUTH_FAILURE_BURST: "5",
      NEURALLOG_AUTH_FAILURES_PER_MINUTE: "1",
    });
    const logs = `${server.url}/api/v1/logs?limit=1`;
    const bad = bearer("guess-0123456789abcdef");

    expect((await sendRequest(logs, { headers: bearer(READ_KEY) })).status).toBe(200);
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await sendRequest(logs, { headers: bad })).status);
    expect(codes).toEqual([401, 401, 401, 401, 401]);

    const locked = await sendRequest(logs, { headers: bad });
    expect(locked.status, locked.body).toBe(429);
    expect(Number(locked.headers["retry-after"])).toBeGreaterThan(0);
    expect(JSON.parse(locked.body).message).toMatch(/too many failed authentications from this address/);
    expect((await sendRequest(logs)).status).toBe(429);

    // The key that authenticated from here before is not penalised ...
    const known = await sendRequest(logs, { headers: bearer(READ_KEY) });
    expect(known.status, known.body).toBe(200);
    // ... but a key new to this address waits like a guess would: the answer must not tell a right guess apart.
    expect((await sendRequest(logs, { headers: bearer(ADMIN_KEY) })).status).toBe(429);

    // Another address is not locked out.
    const other = await sendRequest(logs, { headers: bad, localAddress: "127.0.0.2" });
    expect(other.status, other.body).toBe(401);
    expect((await sendRequest(logs, { headers: bearer(ADMIN_KEY), localAddress: "127.0.0.2" })).status).toBe(
      200,
    );
  });
});

describe("failed authentication behind the ingress (NEURALLOG_TRUSTED_PROXIES)", () => {
  const limits = { NEURALLOG_AUTH_FAILURE_BURST: "3", NEURALLOG_AUTH_FAILURES_PER_MINUTE: "1" };
  const bad = bearer("guess-0123456789abcdef");
  const via = (client: string, headers: Record<string, string> = {}) => ({
    headers: { ...headers, "x-forwarded-for": client },
  });

  it("counts failures per client the trusted proxy names: a guesser behind it does not lock out the shippers", async () => {
    const server = await start("proxied", { ...limits, NEURALLOG_TRUSTED_PROXIES: "127.0.0.1/32" });
    const logs = `${server.url}/api/v1/logs?limit=1`;
    for (let i = 0; i < 3; i++) await sendRequest(logs, via("203.0.113.9", bad));
    expect((await sendRequest(logs, via("203.0.113.9", bad))).status).toBe(429);
    // Same TCP peer (the proxy), another client: a key new to it works.
    const shipper = await sendRequest(logs, via("198.51.100.7", bearer(ADMIN_KEY)));
    expect(shipper.status, shipper.body).toBe(200);
    // A client cannot escape by prepending addresses: the proxy appends the real one, which is what counts.
    expect((await sendRequest(logs, via("198.51.100.7, 203.0.113.9", bad))).status).toBe(429);
  });

  it("ignores X-Forwarded-For from anyone else: rotating the header does not reset the budget", async () => {
    const server = await start("unproxied", limits);
    const logs = `${server.url}/api/v1/logs?limit=1`;
    for (let i = 0; i < 3; i++) await sendRequest(logs, via(`203.0.113.${i}`, bad));
    expect((await sendRequest(logs, via("203.0.113.77", bad))).status).toBe(429);
    // Trusting a proxy that is not the peer changes nothing either.
    const other = await start("other-proxy", { ...limits, NEURALLOG_TRUSTED_PROXIES: "10.9.0.0/16" });
    const otherLogs = `${other.url}/api/v1/logs?limit=1`;
    for (let i = 0; i < 3; i++) await sendRequest(otherLogs, via(`203.0.113.${i}`, bad));
    expect((await sendRequest(otherLogs, via("203.0.113.77", bad))).status).toBe(429);
  });

  it("refuses to start with a trusted proxy that is no address", async () => {
    const server = await servers.spawn({
      redisUrl: redisServer.url,
      tenant: "badproxy",
      apiKeys: API_KEYS,
      env: { NEURALLOG_TRUSTED_PROXIES: "10.0.0.0/8, ingress-nginx" },
    });
    expect(await server.exited()).toBe(1);
    expect(server.stderr()).toContain(
      'NEURALLOG_TRUSTED_PROXIES: "ingress-nginx" is not an IP address or CIDR',
    );
  });
});
