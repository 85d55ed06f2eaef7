/**
 * Retention trims the log stream and its batch index together; search keeps working on what is left. Count and
 * age come from the configuration; memory from the tenant's Redis itself (`maxmemory`, `noeviction`), so old logs
 * never block new ones.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOG_MEMORY_HIGH_WATER } from "../../contracts/log-memory.ts";
import { parseStreamId } from "../../server/storage/log-store.ts";
import { tenantKeys } from "../../server/storage/keys.ts";
import { startRedisServer } from "../support/redis-server.ts";
import { INGEST_KEY, READ_KEY, bearer, ndjson, startHarness, type Harness } from "./harness.ts";

const keys = tenantKeys("acme");

/** Typical logs of batch `b`: a message with ids, a few fields, a trace id (about 250 bytes stored). */
function batchOf(b: number, size: number): string {
  return ndjson(
    Array.from({ length: size }, (_, i) => ({
      level: i % 10 ? "info" : "error",
      msg: `request /api/v1/orders/${b * size + i} handled in ${i % 997} ms for user u${i % 100}`,
      service: ["api", "billing", "worker"][i % 3],
      http: { method: "GET", status: i % 50 ? 200 : 500 },
      batch: b,
      trace_id: (b * size + i).toString(16).padStart(32, "0"),
    })),
  );
}

async function post(h: Harness, body: string): Promise<number> {
  const res = await h.app.inject({ method: "POST", url: "/api/v1/logs", headers: bearer(INGEST_KEY), body });
  return res.statusCode;
}

async function search(h: Harness, query: string): Promise<unknown[]> {
  const res = await h.app.inject({ method: "GET", url: `/api/v1/logs?${query}`, headers: bearer(READ_KEY) });
  expect(res.statusCode).toBe(200);
  return res.json().entries;
}

async function memory(h: Harness): Promise<{ used: number; max: number }> {
  const info = await h.redis.info("memory");
  const field = (name: string): number => Number(new RegExp(`\\n${name}:(\\d+)`).exec(info)?.[1]);
  return { used: field("used_memory"), max: field("maxmemory") };
}

/** The ids of the oldest stored log and the index entries (`f`, `l`: first and last log id of a batch). */
async function oldestLogAndIndex(h: Harness): Promise<{ oldest: string; index: { f: string; l: string }[] }> {
  const oldest = (await h.redis.xrange(keys.logs, "-", "+", "COUNT", 1))[0]![0];
  const index = (await h.redis.xrange(keys.batches, "-", "+")).map(([, fields]) => {
    const get = (name: string): string => fields[fields.indexOf(name) + 1]!;
    return { f: get("f"), l: get("l") };
  });
  return { oldest, index };
}

const before = (a: string, b: string): boolean => {
  const [am, as] = parseStreamId(a);
  const [bm, bs] = parseStreamId(b);
  return am < bm || (am === bm && as < bs);
};

describe("count", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { NEURALLOG_RETENTION_MAX_ENTRIES: "1000" } });
  });
  afterAll(async () => h?.close());

  it("keeps about the newest NEURALLOG_RETENTION_MAX_ENTRIES logs", async () => {
    for (let b = 0; b < 30; b++) {
      const body = ndjson(Array.from({ length: 200 }, (_, i) => ({ msg: `kept ${b * 200 + i}`, batch: b })));
      expect(await post(h, body)).toBe(200);
    }
    const length = await h.redis.xlen(keys.logs);
    // Trimming is approximate (whole macro nodes of 100 entries), never below the cap.
    expect(length).toBeGreaterThanOrEqual(1000);
    expect(length).toBeLessThan(1300);
    // The index is trimmed along (also approximately): 30 batches were written, about 6 are left.
    expect(await h.redis.xlen(keys.batches)).toBeLessThanOrEqual(12);
    expect(await search(h, "field.batch=29&limit=1000")).toHaveLength(200);
    expect(await search(h, "field.batch=0")).toEqual([]);
  });
});

/** A harness on its own Redis with this maxmemory and noeviction, as the tenant's Redis runs. */
async function withMaxmemory(bytes: number, test: (h: Harness) => Promise<void>): Promise<void> {
  const redisServer = await startRedisServer({
    args: ["--maxmemory", String(bytes), "--maxmemory-policy", "noeviction"],
  });
  try {
    const h = await startHarness({ redisServer });
    try {
      await test(h);
    } finally {
      await h.close();
    }
  } finally {
    await redisServer.stop();
  }
}

describe("memory", () => {
  const BATCH = 500;

  it("sustained ingest past maxmemory keeps answering 2xx: the oldest logs go, the newest stay searchable", async () => {
    // 8 MiB holds about 25,000 of these logs; count retention (the default 1,000,000) never comes into play.
    await withMaxmemory(8 * 2 ** 20, async (h) => {
      const batches = 100; // 50,000 logs, about twice what fits
      const statuses: number[] = [];
      for (let b = 0; b < batches; b++) statuses.push(await post(h, batchOf(b, BATCH)));
      expect(statuses.filter((s) => s !== 200)).toEqual([]);

      const { used, max } = await memory(h);
      expect(max).toBe(8 * 2 ** 20);
      expect(used).toBeLessThanOrEqual(max * LOG_MEMORY_HIGH_WATER);
      const length = await h.redis.xlen(keys.logs);
      expect(length).toBeLessThan(batches * BATCH);
      expect(length).toBeGreaterThan(5 * BATCH);

      // Oldest first: the first batches are gone, the newest are whole and found through the index.
      expect(await search(h, "field.batch=0")).toEqual([]);
      expect(await search(h, `field.batch=${batches - 1}&limit=1000`)).toHaveLength(BATCH);
      expect(await search(h, `field.batch=${batches - 2}&level=error&limit=1000`)).toHaveLength(BATCH / 10);

      // The index follows the logs: the oldest log is still covered by an index entry, and at most a macro
      // node of index entries (trimmed approximately, like the logs) describes batches that are entirely gone.
      const { oldest, index } = await oldestLogAndIndex(h);
      expect(index.some((e) => !before(oldest, e.f) && !before(e.l, oldest))).toBe(true);
      expect(index.filter((e) => before(e.l, oldest)).length).toBeLessThan(10);
    });
  });

  it("follows a maxmemory lowered at runtime (CONFIG SET), without a restart", async () => {
    await withMaxmemory(16 * 2 ** 20, async (h) => {
      for (let b = 0; b < 20; b++) expect(await post(h, batchOf(b, BATCH))).toBe(200);
      const { used } = await memory(h);
      const lowered = Math.floor(used * 0.6);
      await h.redis.config("SET", "maxmemory", String(lowered));
      expect(await post(h, batchOf(20, BATCH))).toBe(200);
      const after = await memory(h);
      expect(after.max).toBe(lowered);
      expect(after.used).toBeLessThanOrEqual(lowered);
      expect(await search(h, "field.batch=0")).toEqual([]);
      expect(await search(h, "field.batch=20&limit=1000")).toHaveLength(BATCH);
    });
  });
});
