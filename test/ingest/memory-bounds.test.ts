/**
 * Memory is bounded before work is done: each body or query below took a real server down at the image's heap
 * limit (issue 12, item 2). Each now gets a 4xx or a 503 with Retry-After, and the same process answers
 * afterwards. A real `neurallog server` process with the image's Node flags, real Redis, real HTTP and MCP clients.
 */
import { gzipSync } from "node:zlib";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startRedisServer, type RedisServerHandle } from "../support/redis-server.ts";
import { REQUEST_TIMEOUT_MS, SpawnedServers, within, type ServerProcess } from "../support/server-process.ts";
import { API_KEYS, INGEST_KEY, READ_KEY, bearer } from "./harness.ts";

/** The image's Node settings (image/build.ts): the heap these attacks exhausted. */
const IMAGE_NODE_OPTIONS = "--max-semi-space-size=16 --max-old-space-size=256";

let redis: RedisServerHandle;
let redisClient: Redis;
const servers = new SpawnedServers();
let tenantCount = 0;

beforeAll(async () => {
  redis = await startRedisServer();
  redisClient = new Redis(redis.url);
});
afterEach(async () => {
  await redisClient.call("CLIENT", "UNPAUSE");
  await servers.killAll();
});
afterAll(async () => {
  redisClient?.disconnect();
  await redis?.stop();
});

/** A server of its own tenant (keys of one test never meet another's). */
async function startServer(): Promise<ServerProcess> {
  return servers.start({
    redisUrl: redis.url,
    tenant: `memory-${++tenantCount}`,
    apiKeys: API_KEYS,
    env: { NODE_OPTIONS: IMAGE_NODE_OPTIONS },
  });
}

interface Answer {
  status: number;
  retryAfter: string | null;
  body: string;
}

async function post(
  server: ServerProcess,
  path: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<Answer> {
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { ...bearer(INGEST_KEY), "content-encoding": "gzip", ...headers },
    body,
    signal: AbortSignal.timeout(60_000),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    body: await response.text(),
  };
}

/** The process is still the same and still stores and serves logs. */
async function expectServing(server: ServerProcess): Promise<void> {
  expect(server.child.exitCode, "the server exited").toBeNull();
  expect(server.child.signalCode, "the server was killed").toBeNull();
  const marker = `alive${Date.now()}`;
  const stored = await fetch(`${server.url}/api/v1/logs`, {
    method: "POST",
    headers: { ...bearer(INGEST_KEY), "content-type": "application/json" },
    body: JSON.stringify({ message: marker }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  expect(stored.status).toBe(200);
  const found = await fetch(`${server.url}/api/v1/logs?q=${marker}`, {
    headers: bearer(READ_KEY),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  expect(found.status).toBe(200);
  expect(((await found.json()) as { entries: unknown[] }).entries).toHaveLength(1);
}

/** Protobuf length-delimited field: tag, varint length, bytes. */
function field(number: number, bytes: Buffer): Buffer {
  const length: number[] = [];
  let n = bytes.length;
  while (n > 0x7f) {
    length.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  length.push(n);
  return Buffer.concat([Buffer.from([(number << 3) | 2, ...length]), bytes]);
}

/** An OTLP ExportLogsServiceRequest of `records` empty log records (two bytes each on the wire). */
function emptyOtlpRecords(records: number): Buffer {
  const logRecords = Buffer.alloc(records * 2);
  for (let i = 0; i < logRecords.length; i += 2) logRecords[i] = (2 << 3) | 2; // ScopeLogs.log_records, length 0
  return field(1, field(2, logRecords)); // resource_logs { scope_logs { log_records... } }
}

/** `text` repeated to `bytes` (gzip makes it tiny on the wire). */
function repeated(text: string, bytes: number): Buffer {
  return Buffer.from(text.repeat(Math.floor(bytes / text.length)));
}

describe("bodies that decode to far more than they weigh", { timeout: 120_000 }, () => {
  it("refuses an OTLP protobuf of 30M empty records (58 KB gzip) and one of 3M records below the byte budget", async () => {
    const server = await startServer();
    const headers = { "content-type": "application/x-protobuf" };
    const huge = gzipSync(emptyOtlpRecords(30_000_000));
    expect(huge.length).toBeLessThan(100_000);
    const first = await post(server, "/v1/logs", huge, headers);
    expect(first.status, first.body).toBe(413);
    // 6 MB decoded fits the memory budget: the record count stops it while the wire format is walked.
    const counted = await post(server, "/v1/logs", gzipSync(emptyOtlpRecords(3_000_000)), headers);
    expect(counted.status, counted.body).toBe(413);
    expect(counted.body).toMatch(/10001 entries, more than the limit of 10000/);
    await expectServing(server);
  });

  it("refuses a native [{},{},...] of 20M objects (61 KB gzip) and one of 3M objects below the byte budget", async () => {
    const server = await startServer();
    const headers = { "content-type": "application/json" };
    const array = (objects: number) => gzipSync(Buffer.from(`[${"{},".repeat(objects - 1)}{}]`));
    const first = await post(server, "/api/v1/logs", array(20_000_000), headers);
    expect(first.status, first.body).toBe(413);
    const counted = await post(server, "/api/v1/logs", array(3_000_000), headers);
    expect(counted.status, counted.body).toBe(413);
    expect(counted.body).toMatch(/10001 entries, more than the limit of 10000/);
    await expectServing(server);
  });

  it("counts every bulk action: 122 KB gzip of delete lines, and 75,000 of them below the byte budget", async () => {
    const server = await startServer();
    const headers = { "content-type": "application/x-ndjson" };
    const deletes = (bytes: number) => gzipSync(repeated('{"delete":{}}\n', bytes));
    const first = await post(server, "/logs-x/_bulk", deletes(64_000_000), headers);
    expect(first.status, first.body).toBe(413);
    const counted = await post(server, "/logs-x/_bulk", deletes(75_000 * 14), headers);
    expect(counted.status, counted.body).toBe(413);
    expect(counted.body).toMatch(/10001 entries, more than the limit of 10000/);
    await expectServing(server);
  });
});

describe("the in-flight budget", { timeout: 120_000 }, () => {
  /** NDJSON of valid entries of ~16 KB each. */
  const entries = (count: number, tag: string) =>
    gzipSync(
      Buffer.from(
        Array.from({ length: count }, (_, i) =>
          JSON.stringify({ message: `${tag} ${i} ${"x".repeat(16_000)}`, service: "load" }),
        ).join("\n"),
      ),
    );
  const ndjson = { "content-type": "application/x-ndjson" };

  it("refuses three concurrent 70 KB gzips of 64 MB of 16 KB entries (413, or 503 while the others decode)", async () => {
    const server = await startServer();
    const body = entries(4_000, "big");
    expect(body.length).toBeLessThan(1_000_000);
    const answers = await Promise.all([1, 2, 3].map(() => post(server, "/api/v1/logs", body, ndjson)));
    for (const answer of answers) {
      if (answer.status === 503) expect(answer.retryAfter).toMatch(/^\d+$/);
      else expect(answer.status, answer.body).toBe(413);
    }
    // Alone it never fits: the decompressed-body cap follows the heap.
    const alone = await post(server, "/api/v1/logs", body, ndjson);
    expect(alone.status, alone.body).toBe(413);
    expect(alone.body).toMatch(/sets aside for ingestion; send smaller batches/);
    await expectServing(server);
  });

  it("answers 503 with Retry-After while other bodies hold the budget, and takes them once it is free", async () => {
    const server = await startServer();
    const inUse = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Number(/^neurallog_ingest_memory_bytes\{kind="in_use"\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    // Writes wait while Redis is paused: the first body (~60% of the budget) stays in flight holding its memory.
    await redisClient.call("CLIENT", "PAUSE", "30000", "WRITE");
    const pausedAt = Date.now();
    const holding = post(server, "/api/v1/logs", entries(550, "first"), ndjson);
    await within(
      (async () => {
        while ((await inUse()) < 65 * 1024 * 1024) await new Promise((r) => setTimeout(r, 50));
      })(),
      30_000,
      "the first body holds its memory",
    );
    const second = await post(server, "/api/v1/logs", entries(550, "second"), ndjson);
    expect(second.status, second.body).toBe(503);
    expect(second.retryAfter).toMatch(/^\d+$/);
    await redisClient.call("CLIENT", "UNPAUSE");
    const held = await holding;
    // The first body is stored once Redis takes writes again; unless Redis stayed paused past the server's Redis
    // command timeout (10 s, a loaded machine): then it is a 503 with Retry-After, not stored, as any Redis stall.
    if (Date.now() - pausedAt < 9_000) expect(held.status, held.body).toBe(200);
    else if (held.status !== 200) {
      expect(held.status, held.body).toBe(503);
      expect(held.retryAfter).toMatch(/^\d+$/);
    }
    const retried = await post(server, "/api/v1/logs", entries(550, "second"), ndjson);
    expect(retried.status, retried.body).toBe(200);
    expect(await inUse()).toBe(0);
    await expectServing(server);
  });
});

describe("stats bounds", { timeout: 120_000 }, () => {
  it("refuses MCP get_log_stats from 0 with 60 s buckets as a tool error", async () => {
    const server = await startServer();
    const client = new Client({ name: "memory-bounds", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
        requestInit: { headers: bearer(READ_KEY) },
      }),
    );
    try {
      const result = await client.callTool({
        name: "get_log_stats",
        arguments: { from: 0, stepSeconds: 60 },
      });
      expect(result.isError).toBe(true);
      expect((result.content as { text: string }[])[0]!.text).toMatch(/at most 744 hours/);
    } finally {
      await client.close();
    }
    await expectServing(server);
  });

  it("answers 60 s buckets over 10,000 minutes of 3,000 sources with the busiest sources only", async () => {
    const server = await startServer();
    const now = Date.now();
    const logs = Array.from({ length: 3_000 }, (_, i) =>
      JSON.stringify({ timestamp: now - 60_000, service: `source-${i}`, message: "x" }),
    ).join("\n");
    const stored = await fetch(`${server.url}/api/v1/logs`, {
      method: "POST",
      headers: { ...bearer(INGEST_KEY), "content-type": "application/x-ndjson" },
      body: logs,
    });
    expect(stored.status).toBe(200);
    // Just under 10,000 buckets (the bucket bound), with 3,000 sources: 30M cells before the cell cap.
    const from = new Date(now - 9_990 * 60_000).toISOString();
    const response = await fetch(`${server.url}/api/v1/stats?step=60&from=${from}`, {
      headers: bearer(READ_KEY),
      signal: AbortSignal.timeout(60_000),
    });
    expect(response.status).toBe(200);
    const stats = (await response.json()) as {
      timestamps: number[];
      sources: Record<string, number[]>;
      omittedSources: number;
      total: number;
    };
    expect(stats.total).toBe(3_000);
    const series = Object.keys(stats.sources).length;
    expect(series * stats.timestamps.length).toBeLessThanOrEqual(200_000);
    expect(series + stats.omittedSources).toBe(3_000);
    await expectServing(server);
  });
});
