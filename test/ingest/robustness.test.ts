/**
 * Bad input of every kind gets a 4xx with a clear message, never a 5xx or a crash, and leaves stored data intact;
 * a Redis outage gives 503 with Retry-After and the server recovers by itself when Redis is back.
 */
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INGEST_KEY, READ_KEY, bearer, ndjson, startHarness, type Harness } from "./harness.ts";
import { startRedisServer } from "../support/redis-server.ts";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

const ENDPOINTS = ["/api/v1/logs", "/loki/api/v1/push", "/v1/logs", "/_bulk", "/logs-x/_bulk"];
const TYPES = [
  "application/json",
  "application/x-ndjson",
  "application/x-protobuf",
  "text/plain",
  "application/octet-stream",
];

/** A deterministic generator, so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

function garbage(random: () => number): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const samples: (() => string | Buffer)[] = [
    () => randomBytes(Math.floor(random() * 2000)),
    () => '{"msg": "unterminated',
    () => "[".repeat(Math.floor(random() * 50_000)),
    () => `{"a":${"[".repeat(20_000)}1${"]".repeat(20_000)}}`,
    () =>
      JSON.stringify({
        streams: pick([5, "x", [{ stream: 1, values: 2 }], [{ stream: {}, values: [[1]] }], null]),
      }),
    () =>
      JSON.stringify({
        resourceLogs: pick([5, [null], [{ scopeLogs: [{ logRecords: [7, { body: { kvlistValue: 3 } }] }] }]]),
      }),
    () =>
      JSON.stringify({
        resourceLogs: [
          {
            scopeLogs: [
              {
                logRecords: [
                  { timeUnixNano: "abc", severityNumber: "x", body: { arrayValue: { values: 9 } } },
                ],
              },
            ],
          },
        ],
      }),
    () => `{"index":{}}\n${pick(["{", "5", "[]", '{"a":1}'])}\n{"delete":{"_index":"x"}}\n{"update":{}}`,
    () =>
      JSON.stringify(
        pick([null, 1, "s", true, [], [[]], [null], { time: {} }, { level: [] }, { msg: { a: 1 } }]),
      ),
    () =>
      ndjson(
        Array.from({ length: 5 }, () => ({
          time: pick([-1, 1e30, "2026-99-99", NaN, "", null]),
          level: pick([null, {}, 99, "??"]),
        })),
      ),
    () => Buffer.concat([gzipSync(Buffer.from('{"msg":"x"}')).subarray(0, 10)]),
    () =>
      Buffer.from([0xff, 0x0f, 0x00, 0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
    () => `{"msg":"${"x".repeat(600_000)}"}`,
    () => "\u0000\u0001\ufffd\ud800",
  ];
  const value = pick(samples)();
  return Buffer.isBuffer(value) ? value : Buffer.from(value);
}

async function countMarked(): Promise<number> {
  const res = await h.app.inject({
    method: "GET",
    url: "/api/v1/logs?q=sentinel&limit=1000",
    headers: bearer(READ_KEY),
  });
  expect(res.statusCode).toBe(200);
  return res.json().entries.length;
}

describe("garbage", () => {
  it("answers thousands of random bodies with 2xx or a 4xx that says why, and keeps stored data intact", async () => {
    const stored = await h.app.inject({
      method: "POST",
      url: "/api/v1/logs",
      headers: bearer(INGEST_KEY),
      body: ndjson(Array.from({ length: 20 }, (_, i) => ({ msg: `sentinel ${i}` }))),
    });
    expect(stored.statusCode).toBe(200);
    const random = rng(42);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 2000; i++) {
      const body = garbage(random);
      const headers: Record<string, string> = {
        ...bearer(INGEST_KEY),
        "content-type": TYPES[Math.floor(random() * TYPES.length)]!,
      };
      if (random() < 0.15) headers["content-encoding"] = random() < 0.5 ? "gzip" : "deflate";
      const res = await h.app.inject({
        method: "POST",
        url: ENDPOINTS[i % ENDPOINTS.length]!,
        headers,
        body,
      });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode >= 500) throw new Error(`request ${i} got ${res.statusCode}: ${res.body}`);
      if (
        res.statusCode >= 400 &&
        res.statusCode !== 415 &&
        res.headers["content-type"]?.toString().includes("json")
      ) {
        expect(res.json().message, `request ${i}`).toMatch(/\w{4,}/);
      }
    }
    expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
    expect(statuses.get(400)).toBeGreaterThan(100);
    expect(await countMarked()).toBe(20);
    expect((await h.app.inject({ url: "/readyz" })).statusCode).toBe(200);
  });

  it("names the entry and the reason for oversized lines and fields", async () => {
    const res = await h.app.inject({
      method: "POST",
      url: "/api/v1/logs",
      headers: bearer(INGEST_KEY),
      body: `${JSON.stringify({ msg: "ok line" })}\n${JSON.stringify({ msg: "x".repeat(600_000) })}\n${JSON.stringify({ msg: "y", big: "z".repeat(20_000) })}\n`,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      accepted: 1,
      rejected: 2,
      errors: [
        { entry: 2, reason: expect.stringMatching(/line has 600\d+ bytes, more than 524288/) },
        { entry: 3, reason: expect.stringMatching(/field "big" has 20000 characters, more than 16384/) },
      ],
    });
  });

  it("refuses a gzip bomb past the decompressed limit with 413", async () => {
    const bomb = gzipSync(Buffer.alloc(70 * 1024 * 1024, 0x20));
    const res = await h.app.inject({
      method: "POST",
      url: "/api/v1/logs",
      headers: { ...bearer(INGEST_KEY), "content-encoding": "gzip" },
      body: bomb,
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().message).toMatch(/decompresses to more than 67108864 bytes/);
  });
});

describe("Redis outage", () => {
  it("answers 503 with Retry-After while Redis is down and recovers when it is back", async () => {
    const redis = await startRedisServer();
    const own = await startHarness({ redisServer: redis });
    try {
      const post = (msg: string) =>
        own.app.inject({
          method: "POST",
          url: "/api/v1/logs",
          headers: bearer(INGEST_KEY),
          body: ndjson([{ msg }]),
        });
      expect((await post("before outage")).statusCode).toBe(200);
      await redis.kill();
      const down = await post("during outage");
      expect(down.statusCode).toBe(503);
      expect(down.headers["retry-after"]).toBe("1");
      expect(down.json().message).toMatch(/log storage is unavailable; retry later/);
      const ready = await own.app.inject({ url: "/readyz" });
      expect(ready.statusCode).toBe(503);
      const search = await own.app.inject({ method: "GET", url: "/api/v1/logs", headers: bearer(READ_KEY) });
      expect(search.statusCode).toBe(503);

      const restarted = await startRedisServer({ port: redis.port, dir: redis.dir });
      try {
        const deadline = Date.now() + 15_000;
        let status = 0;
        while (Date.now() < deadline && status !== 200) {
          status = (await post("after outage")).statusCode;
          if (status !== 200) await new Promise((r) => setTimeout(r, 200));
        }
        expect(status).toBe(200);
        expect((await own.app.inject({ url: "/readyz" })).statusCode).toBe(200);
      } finally {
        await own.close();
        await restarted.stop();
      }
    } finally {
      await redis.stop();
    }
  });
});
