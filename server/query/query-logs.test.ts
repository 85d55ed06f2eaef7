/**
 * queryLogs against a plain full scan, over varied data and filters, with a real Redis: whatever the index rules
 * out, the pages (newest first, followed by cursor) hold exactly the logs a scan of the whole stream matches.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisServer, type RedisServerHandle } from "../../test/support/redis-server.ts";
import { LOG_LEVELS, type LogEntry, type StoredLogEntry } from "../logs/log-entry.ts";
import { BLOCK_LOGS, indexBatch } from "../storage/batch-index.ts";
import { tenantKeys } from "../storage/keys.ts";
import { LogStore } from "../storage/log-store.ts";
import { decodeEntry, encodeEntry, entryData } from "../storage/stored-form.ts";
import { batchCatalog } from "./batch-catalog.ts";
import { compileFilter, type LogFilter } from "./log-filter.ts";
import { queryLogs } from "./query-logs.ts";
import { seededRandom as random } from "../../test/support/seeded-random.ts";

const SOURCES = ["api", "auth", "billing", "svc-ü", 'we"ird|src'];
const WORDS = ["alpha", "Beta", "GAMMA", "gamma", "delta", "überweisung", "ÜBERWEISUNG", "x_1", "42", "v1"];
const RARE = ["needle7", "Needle8", "haystackless"];
const BASE_TS = Date.UTC(2026, 11, 1);
/** Message parts JSON escapes (quotes, backslashes, controls) or writes as multi-byte UTF-8. */
const ESCAPED = [
  'say "hi"',
  "C:\\tmp\\x",
  "one\ntwo",
  "tab\there",
  "bell\u0007",
  "😀 grin",
  "sep\u2028x",
  "zqxneedle7",
];
/** `contains` needles: parts of words, ESCAPED's parts, a lone surrogate (half of 😀), stored-form look-alikes. */
const NEEDLES = [
  ...["eedle", "Needle", "lph", "amma", "überw", "ÜBER", "x_", ",", " "],
  ...['"hi"', '"', "\\tmp\\", "\\", "e\nt", "\n", "\t", "\u0007", "😀", "\ud83d", "\u2028", "zqxneedle"],
  ...['"s":"api"', '\\ "http', "\\u0007", "absent"],
];

function makeLog(rand: () => number, n: number): LogEntry {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const words = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => pick(WORDS));
  if (rand() < 0.01) words.push(pick(RARE));
  if (rand() < 0.05) words.push(pick(ESCAPED));
  if (rand() < 0.05) words.push(`"s":"api" "user":"u3" \\ "http.status":500`); // stored-form look-alikes
  if (rand() < 0.01) words.push(...Array.from({ length: 300 }, (_, i) => `w${i}`)); // past the indexed tokens
  const fields: Record<string, string | number | boolean | null> = { user: `u${Math.floor(rand() * 20)}` };
  const status = rand();
  if (status < 0.3) fields["http.status"] = 500;
  else if (status < 0.4) fields["http.status"] = "500";
  else if (status < 0.8) fields["http.status"] = 200;
  if (rand() < 0.3) fields.ok = rand() < 0.5;
  if (rand() < 0.1) fields.nil = null;
  if (rand() < 0.05) fields.long = "L".repeat(150);
  if (rand() < 0.05) fields['q"uote'] = 'a"b\\c';
  return {
    // Mostly in order, sometimes late or early: time ranges of batches and blocks overlap.
    timestamp: BASE_TS + n * 10 + (rand() < 0.1 ? Math.floor((rand() - 0.5) * 20_000) : 0),
    level: pick(LOG_LEVELS),
    message: words.join(rand() < 0.5 ? " " : ", "),
    source: pick(SOURCES),
    ...(rand() < 0.2 ? { traceId: `t${n}` } : {}),
    fields,
  };
}

function makeFilter(rand: () => number, logs: number): LogFilter {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const filter: {
    -readonly [K in keyof LogFilter]: LogFilter[K];
  } = {};
  if (rand() < 0.3) filter.level = pick(LOG_LEVELS);
  if (rand() < 0.3) filter.source = pick([...SOURCES, "nowhere"]);
  if (rand() < 0.5) {
    const q = pick([
      pick(WORDS),
      pick(RARE),
      `${pick(WORDS)} ${pick(WORDS)}`,
      `"${pick(WORDS)} ${pick(WORDS)}"`,
      "w299",
      "w3 w5",
      "absent",
    ]);
    filter.q = q;
  }
  if (rand() < 0.4) {
    filter.fields = pick<Record<string, string>>([
      { user: `u${Math.floor(rand() * 22)}` },
      { "http.status": "500" },
      { "http.status": "200", user: "u1" },
      { ok: "true" },
      { nil: "null" },
      { long: "L".repeat(150) },
      { 'q"uote': 'a"b\\c' },
      { missing: "x" },
    ]);
  }
  if (rand() < 0.4) {
    filter.contains = Array.from({ length: 1 + Math.floor(rand() * 2) }, () => pick(NEEDLES));
  }
  if (rand() < 0.3) {
    const from = BASE_TS + Math.floor(rand() * logs * 10);
    filter.from = from;
    if (rand() < 0.7) filter.to = from + Math.floor(rand() * 5_000);
  }
  return filter;
}

/** Every log of the stream, newest first: what the reference scan matches one by one. */
async function everyLog(redis: Redis, tenant: string): Promise<StoredLogEntry[]> {
  const all = (await redis.xrevrange(tenantKeys(tenant).logs, "+", "-")) as [string, string[]][];
  return all.map(([id, kv]) => decodeEntry(id, entryData(kv)!));
}

/** Every page of a query, followed by its cursors. */
async function allPages(redis: Redis, tenant: string, filter: LogFilter, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await queryLogs(redis, tenant, { ...filter, limit, ...(cursor ? { cursor } : {}) });
    ids.push(...page.entries.map((e: StoredLogEntry) => e.id));
    cursor = page.nextCursor;
    if (!cursor) return ids;
  }
  throw new Error("no end of pages");
}

/** Writes batches of random sizes (1..300 logs) through the ingest script. */
async function ingest(store: LogStore, rand: () => number, from: number, count: number): Promise<number> {
  let n = from;
  while (n < from + count) {
    const size = Math.min(1 + Math.floor(rand() * 300), from + count - n);
    await store.append(Array.from({ length: size }, (_, i) => makeLog(rand, n + i)));
    n += size;
  }
  return n;
}

/** A batch as the index wrote it before blocks (no `k` field), for the upgrade path. */
async function ingestOldFormat(redis: Redis, tenant: string, rand: () => number, n: number, size: number) {
  const keys = tenantKeys(tenant);
  const entries = Array.from({ length: size }, (_, i) => makeLog(rand, n + i));
  const index = indexBatch(entries);
  const [last] = (await redis.xrevrange(keys.logs, "+", "-", "COUNT", 1)) as [string, string[]][];
  const ms = Math.max(Date.now(), Number(last?.[0].split("-")[0] ?? 0) + 1);
  for (let i = 0; i < size; i++) await redis.xadd(keys.logs, `${ms}-${i}`, "d", encodeEntry(entries[i]!));
  await redis.xadd(
    keys.batches,
    "*",
    ...["f", `${ms}-0`, "l", `${ms}-${size - 1}`, "n", String(size), "t0", String(index.minTs)],
    ...["t1", String(index.maxTs), "lv", String(index.levelMask), "c", index.tokensComplete ? "1" : "0"],
    ...["b", index.bloom.toString("base64")],
  );
}

/** The pages of one filter against the scan of `all`; returns how many logs matched. */
async function expectFilterSameAsScan(
  redis: Redis,
  tenant: string,
  all: readonly StoredLogEntry[],
  filter: LogFilter,
  limit: number,
  context: string,
): Promise<number> {
  // `contains` is checked apart from compileFilter: a plain `includes` on the message, as LogQL's `|=`.
  const { contains = [], ...rest } = filter;
  const compiled = compileFilter(rest);
  const expected = all
    .filter((entry) => compiled.matches(entry) && contains.every((needle) => entry.message.includes(needle)))
    .map((entry) => entry.id);
  const where = `${context}: ${JSON.stringify(filter)}, limit ${limit}`;
  expect(await allPages(redis, tenant, filter, limit), where).toEqual(expected);
  const first = await queryLogs(redis, tenant, { ...filter, limit });
  expect(
    first.entries.map((e) => e.id),
    where,
  ).toEqual(expected.slice(0, limit));
  return expected.length;
}

async function expectSameAsFullScan(
  redis: Redis,
  tenant: string,
  seed: number,
  filters: number,
  logs: number,
) {
  const rand = random(seed);
  const all = await everyLog(redis, tenant);
  for (let i = 0; i < filters; i++) {
    const filter = makeFilter(rand, logs);
    const limit = [7, 40, 250][Math.floor(rand() * 3)]!;
    await expectFilterSameAsScan(redis, tenant, all, filter, limit, `seed ${seed}, filter ${i}`);
  }
  // Every needle on its own, whatever the seed picked: each escape (and the lone surrogate) is exercised.
  let found = 0;
  for (const needle of NEEDLES) {
    const n = await expectFilterSameAsScan(
      redis,
      tenant,
      all,
      { contains: [needle] },
      40,
      `needle ${needle}`,
    );
    if (n > 0) found++;
  }
  expect(found).toBe(NEEDLES.length - 2); // all but "absent" and the look-alike text \\u0007
}

describe("the text a stored log must contain", () => {
  it("holds a contains needle as JSON escapes it, and leaves a lone surrogate to the exact match", () => {
    const { storedText } = compileFilter({ source: "api", contains: ['say "hi"', "a\\b\n", "\ud83d", ""] });
    expect(storedText.exact).toEqual(['"s":"api"', 'say \\"hi\\"', "a\\\\b\\n"]);
  });
});

describe("queryLogs against a full scan", () => {
  let server: RedisServerHandle;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it("finds exactly what a scan finds, across blocks, batches, old-format entries and new writes", async () => {
    const store = new LogStore(redis, "prop", { maxAgeSeconds: 0, maxEntries: 1_000_000 });
    const rand = random(1);
    let n = await ingest(store, rand, 0, 3000);
    await ingestOldFormat(redis, "prop", rand, n, 150);
    n = await ingest(store, rand, n + 150, 1500);
    // Several blocks per batch are exercised (batches up to 300 logs, blocks of BLOCK_LOGS).
    expect(BLOCK_LOGS).toBeLessThan(150);
    await expectSameAsFullScan(redis, "prop", 11, 80, n);
    // Logs stored after the catalog was loaded are found (it grows at its new end).
    n = await ingest(store, rand, n, 700);
    await expectSameAsFullScan(redis, "prop", 12, 30, n);
  });

  it("reads past the catalog's memory budget from Redis, with the same results", async () => {
    const small = new Redis(server.url);
    try {
      const catalog = batchCatalog(small, "prop", 4_000);
      await expectSameAsFullScan(small, "prop", 13, 25, 5350);
      expect(catalog.view().complete).toBe(false);
      expect(catalog.heldBytes).toBeLessThanOrEqual(4_000);
    } finally {
      small.disconnect();
    }
  });

  it("follows retention trimming and a flushed Redis", async () => {
    const store = new LogStore(redis, "trim", { maxAgeSeconds: 0, maxEntries: 800 });
    const rand = random(2);
    const n = await ingest(store, rand, 0, 1500);
    await expectSameAsFullScan(redis, "trim", 21, 20, n);
    await ingest(store, rand, n, 2500);
    await expectSameAsFullScan(redis, "trim", 22, 30, n + 2500);
    // The index lives in the batches stream only, trimmed with the logs: no key grows beside it.
    const keys = await redis.keys("nl:{trim}:*");
    expect(keys.filter((k) => !k.startsWith("nl:{trim}:stats:")).sort()).toEqual([
      "nl:{trim}:batches",
      "nl:{trim}:logs",
    ]);
    // 4,000 logs were written in ~27 batches; about 800 logs (a few batches) remain, and about as many entries.
    expect(await redis.xlen("nl:{trim}:batches")).toBeLessThan(15);
    await redis.flushall();
    const again = await ingest(store, random(3), 0, 600);
    await expectSameAsFullScan(redis, "trim", 23, 20, again);
  });

  it("stores and finds a batch when the index stream already holds a greater id (an older layout's '*' ids)", async () => {
    const keys = tenantKeys("upgrade");
    // An index entry from the future: the batch's last log id cannot be its id, so the script falls back to '*'.
    await redis.xadd(keys.batches, `${Date.now() + 3_600_000}-0`, "f", "0-1", "l", "0-1", "n", "1");
    const store = new LogStore(redis, "upgrade", { maxAgeSeconds: 0, maxEntries: 1_000_000 });
    const stored = await store.append([makeLog(random(4), 0), makeLog(random(5), 1)]);
    expect(await redis.xlen(keys.batches)).toBe(2);
    const page = await queryLogs(redis, "upgrade", {});
    expect(page.entries.map((e) => e.id)).toEqual(stored.map((e) => e.id).reverse());
  });
});
