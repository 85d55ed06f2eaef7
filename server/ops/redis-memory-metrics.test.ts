/**
 * The Redis memory gauges the "Redis memory near maxmemory" alert divides: a real redis-server with a
 * maxmemory, the real app's /metrics, and the same app once Redis is gone (the scrape still answers).
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_KEY,
  INGEST_KEY,
  bearer,
  ndjson,
  startHarness,
  type Harness,
} from "../../test/ingest/harness.ts";
import { startRedisServer, type RedisServerHandle } from "../../test/support/redis-server.ts";
import { parseInfoMemory } from "./redis-memory-metrics.ts";

const MAXMEMORY = 64 * 1024 * 1024;
let redisServer: RedisServerHandle;
let h: Harness;

beforeAll(async () => {
  redisServer = await startRedisServer({ args: ["--maxmemory", String(MAXMEMORY)] });
  h = await startHarness({ redisServer });
});
afterAll(async () => {
  await h?.close();
  await redisServer?.stop();
});

async function gauges(): Promise<{ status: number; used?: number; max?: number }> {
  const res = await h.app.inject({ url: "/metrics", headers: bearer(ADMIN_KEY) });
  const value = (name: string): number | undefined => {
    const line = res.body.split("\n").find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.split(" ")[1]);
  };
  return {
    status: res.statusCode,
    used: value("neurallog_redis_memory_used_bytes"),
    max: value("neurallog_redis_memory_max_bytes"),
  };
}

describe("Redis memory in /metrics", () => {
  it("reports maxmemory and a used_memory that grows with stored logs", async () => {
    const before = await gauges();
    expect(before.max).toBe(MAXMEMORY);
    expect(before.used).toBeGreaterThan(0);
    const message = "x".repeat(1000);
    const res = await h.app.inject({
      method: "POST",
      url: "/api/v1/logs",
      headers: { ...bearer(INGEST_KEY), "content-type": "application/x-ndjson" },
      payload: ndjson(
        Array.from({ length: 2000 }, (_, i) => ({ level: "info", message: `${i} ${message}` })),
      ),
    });
    expect(res.statusCode, res.body).toBeLessThan(300);
    const after = await gauges();
    // 2,000 logs of ~1 KB each: at least 1 MB more.
    expect(after.used! - before.used!).toBeGreaterThan(1_000_000);
  });

  it("parses INFO memory as Redis writes it (CRLF lines) and refuses an answer without the fields", () => {
    expect(
      parseInfoMemory("# Memory\r\nused_memory:1234\r\nused_memory_human:1.2K\r\nmaxmemory:0\r\n"),
    ).toEqual({
      used: 1234,
      max: 0,
    });
    expect(parseInfoMemory("# Memory\r\nused_memory_human:1.2K\r\n")).toBeUndefined();
  });

  it("answers /metrics while Redis is paused, the gauges at their last values", async () => {
    const before = await gauges();
    const admin = new Redis(redisServer.url);
    const other = new Redis(redisServer.url);
    try {
      await other.ping();
      await admin.client("PAUSE", 2000, "ALL");
      // A command sent now waits for the pause to end: while it has not answered, Redis is still paused.
      let pinged = false;
      const ping = other.ping().then(() => (pinged = true));
      const during = await gauges();
      expect(pinged).toBe(false);
      expect(during.status).toBe(200);
      expect(during.max).toBe(before.max);
      await ping;
    } finally {
      admin.disconnect();
      other.disconnect();
    }
  });

  it("still answers /metrics, without the gauges' fresh values, when Redis is unreachable", async () => {
    await redisServer.stop();
    const res = await gauges();
    expect(res.status).toBe(200);
  });
});
