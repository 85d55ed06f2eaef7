/** The native API end to end against a real Redis: ingest in every body shape, search, pages, stats, auth. */
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoredLogEntry } from "../../server/logs/log-entry.ts";
import { ADMIN_KEY, INGEST_KEY, READ_KEY, bearer, ndjson, startHarness, type Harness } from "./harness.ts";

let h: Harness;
const ingested: StoredLogEntry[][] = [];

beforeAll(async () => {
  h = await startHarness({
    extensions: [{ name: "recorder", onIngested: async (entries) => void ingested.push([...entries]) }],
  });
});
afterAll(async () => h?.close());

const T0 = Date.UTC(2026, 10, 27, 10, 0, 0);

async function post(body: string | Buffer, headers: Record<string, string> = {}) {
  return h.app.inject({
    method: "POST",
    url: "/api/v1/logs",
    headers: { ...bearer(INGEST_KEY), "content-type": "application/x-ndjson", ...headers },
    body,
  });
}

async function search(query: string) {
  const res = await h.app.inject({ method: "GET", url: `/api/v1/logs?${query}`, headers: bearer(READ_KEY) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { entries: StoredLogEntry[]; nextCursor?: string };
}

describe("native ingest", () => {
  it("accepts NDJSON, a JSON array, a JSON object and gzip, and hands stored entries to extensions", async () => {
    const r1 = await post(
      ndjson([
        { time: T0, level: "info", msg: "user alice logged in", service: "auth", user: { id: "alice" } },
        {
          time: T0 + 1,
          level: "error",
          msg: "Connection refused to db-1",
          service: "api",
          http: { status: 503 },
        },
      ]),
    );
    expect(r1.statusCode, r1.body).toBe(200);
    expect(r1.json()).toEqual({ accepted: 2, rejected: 0 });
    const r2 = await post(
      JSON.stringify([{ ts: (T0 + 2) / 1000, level: "warn", message: "slow query", app: "api" }]),
      {
        "content-type": "application/json",
      },
    );
    expect(r2.json()).toEqual({ accepted: 1, rejected: 0 });
    const r3 = await post(
      JSON.stringify({ timestamp: new Date(T0 + 3).toISOString(), level: 50, msg: "boom", job: "worker" }),
      {
        "content-type": "application/json",
      },
    );
    expect(r3.json()).toEqual({ accepted: 1, rejected: 0 });
    const r4 = await post(
      gzipSync(ndjson([{ time: T0 + 4, level: "debug", msg: "compressed hello", service: "auth" }])),
      {
        "content-encoding": "gzip",
      },
    );
    expect(r4.json()).toEqual({ accepted: 1, rejected: 0 });
    expect(ingested.flat().map((e) => e.message)).toEqual([
      "user alice logged in",
      "Connection refused to db-1",
      "slow query",
      "boom",
      "compressed hello",
    ]);
    expect(ingested.flat().every((e) => /^\d+-\d+$/.test(e.id))).toBe(true);
  });

  it("stores valid entries of a batch and names the rejected ones", async () => {
    const res = await post(`${JSON.stringify({ msg: "fine", time: T0 + 5 })}\n{broken\n42\n`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.accepted).toBe(1);
    expect(body.rejected).toBe(2);
    expect(body.errors[0]).toMatchObject({ entry: 2, reason: expect.stringMatching(/not valid JSON/) });
    expect(body.errors[1]).toMatchObject({ entry: 3, reason: "expected a JSON object, got a number" });
  });

  it("answers 400 when every entry is rejected, and 400/413/415 for bodies it cannot take", async () => {
    const all = await post("nope\n");
    expect(all.statusCode).toBe(400);
    expect(all.json().message).toMatch(/every entry was rejected; entry 1: not valid JSON/);
    expect((await post("[1,", { "content-type": "application/json" })).json().message).toMatch(
      /not valid JSON/,
    );
    expect((await post(Buffer.from("not gzip"), { "content-encoding": "gzip" })).json().message).toMatch(
      /cannot be decompressed/,
    );
    const enc = await post("{}", { "content-encoding": "br" });
    expect(enc.statusCode).toBe(415);
    const huge = ndjson(Array.from({ length: h.config.limits.maxBatchEntries + 1 }, () => ({ msg: "x" })));
    const many = await post(huge);
    expect(many.statusCode).toBe(413);
    expect(many.json().message).toMatch(/10001 entries, more than the limit of 10000/);
  });

  it("refuses a body over the limit with 413 and stores nothing of it", async () => {
    const small = await startHarness({
      env: { NEURALLOG_MAX_BODY_BYTES: "2048" },
      redisServer: h.redisServer,
    });
    try {
      const res = await small.app.inject({
        method: "POST",
        url: "/api/v1/logs",
        headers: bearer(INGEST_KEY),
        body: ndjson(Array.from({ length: 100 }, (_, i) => ({ msg: `too big ${i}` }))),
      });
      expect(res.statusCode).toBe(413);
      expect(res.json().message).toMatch(/larger than the limit of 2048 bytes/);
    } finally {
      await small.close();
    }
    expect((await search("q=big")).entries).toEqual([]);
  });
});

describe("query", () => {
  it("returns entries newest first with normalized fields", async () => {
    const { entries } = await search("from=" + T0 + "&to=" + (T0 + 5));
    expect(entries.map((e) => [e.level, e.message, e.source])).toEqual([
      ["debug", "compressed hello", "auth"],
      ["error", "boom", "worker"],
      ["warn", "slow query", "api"],
      ["error", "Connection refused to db-1", "api"],
      ["info", "user alice logged in", "auth"],
    ]);
    expect(entries[3]).toMatchObject({ timestamp: T0 + 1, fields: { "http.status": 503 } });
  });

  it("filters by level (at least), source, field, tokens and phrases", async () => {
    const messages = async (q: string) => (await search(q)).entries.map((e) => e.message);
    expect(await messages("level=error")).toEqual(["boom", "Connection refused to db-1"]);
    expect(await messages("level=warn&source=api")).toEqual(["slow query", "Connection refused to db-1"]);
    expect(await messages("field.http.status=503")).toEqual(["Connection refused to db-1"]);
    expect(await messages("field.user.id=alice")).toEqual(["user alice logged in"]);
    expect(await messages("q=REFUSED%20connection")).toEqual(["Connection refused to db-1"]);
    expect(await messages('q="connection refused"')).toEqual(["Connection refused to db-1"]);
    expect(await messages('q="refused connection"')).toEqual([]);
    expect(await messages("q=hello&source=auth")).toEqual(["compressed hello"]);
  });

  it("pages with a cursor across batches without gaps or repeats", async () => {
    const before = (await search("limit=1000")).entries.length;
    for (let b = 0; b < 5; b++) {
      await post(ndjson(Array.from({ length: 7 }, (_, i) => ({ msg: `paged ${b * 7 + i}`, tag: "paging" }))));
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await search(`field.tag=paging&limit=4${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...page.entries.map((e) => e.message));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    expect(seen).toEqual(Array.from({ length: 35 }, (_, i) => `paged ${34 - i}`));
    expect((await search("limit=1000")).entries.length).toBe(before + 35);
  });

  it("rejects bad parameters naming them", async () => {
    const res = await h.app.inject({
      method: "GET",
      url: "/api/v1/logs?level=loud&from=someday&cursor=x",
      headers: bearer(READ_KEY),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/level="loud" must be one of/);
    expect(res.json().message).toMatch(/from="someday" is not an ISO 8601 time/);
    const cursor = await h.app.inject({
      method: "GET",
      url: "/api/v1/logs?cursor=abc",
      headers: bearer(READ_KEY),
    });
    expect(cursor.statusCode).toBe(400);
    expect(cursor.json().message).toMatch(/cursor "abc" is not one this server issued/);
  });

  it("counts per level and source per bucket", async () => {
    const res = await h.app.inject({
      method: "GET",
      url: `/api/v1/stats?from=${T0}&to=${T0 + 120_000}&step=60`,
      headers: bearer(READ_KEY),
    });
    expect(res.statusCode, res.body).toBe(200);
    const stats = res.json();
    expect(stats.timestamps).toEqual([T0, T0 + 60_000]);
    expect(stats.levels.error).toEqual([2, 0]);
    expect(stats.levels.info).toEqual([2, 0]);
    expect(stats.sources).toEqual({ auth: [2, 0], api: [2, 0], worker: [1, 0], unknown: [1, 0] });
    expect(stats.total).toBe(6);
  });
});

describe("auth", () => {
  it("401 with WWW-Authenticate without a valid key, 403 without the scope, admin reads", async () => {
    const none = await h.app.inject({ method: "GET", url: "/api/v1/logs" });
    expect(none.statusCode).toBe(401);
    expect(none.headers["www-authenticate"]).toMatch(/Bearer/);
    const wrong = await h.app.inject({
      method: "GET",
      url: "/api/v1/logs",
      headers: bearer("not-a-key-at-all-000"),
    });
    expect(wrong.statusCode).toBe(401);
    const scope = await h.app.inject({ method: "GET", url: "/api/v1/logs", headers: bearer(INGEST_KEY) });
    expect(scope.statusCode).toBe(403);
    expect(scope.json().message).toMatch(/"shipper" lacks the "read" scope/);
    const noIngest = await post(ndjson([{ msg: "x" }]), bearer(READ_KEY));
    expect(noIngest.statusCode).toBe(403);
    const admin = await h.app.inject({
      method: "GET",
      url: "/api/v1/logs?limit=1",
      headers: bearer(ADMIN_KEY),
    });
    expect(admin.statusCode).toBe(200);
  });

  it("accepts Basic with the key as password", async () => {
    const basic = `Basic ${Buffer.from(`anyone:${READ_KEY}`).toString("base64")}`;
    const res = await h.app.inject({
      method: "GET",
      url: "/api/v1/logs?limit=1",
      headers: { authorization: basic },
    });
    expect(res.statusCode).toBe(200);
  });

  it("rate-limits per key with 429 and Retry-After", async () => {
    const limited = await startHarness({
      redisServer: h.redisServer,
      env: {
        NEURALLOG_API_KEYS: JSON.stringify([
          {
            name: "slow",
            key: "sha256:" + (await sha256Hex("slow-key-0123456789")),
            scopes: ["read"],
            rateLimit: { requestsPerSecond: 0.001, burst: 2 },
          },
        ]),
      },
    });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await limited.app.inject({
          method: "GET",
          url: "/api/v1/logs?limit=1",
          headers: bearer("slow-key-0123456789"),
        });
        codes.push(res.statusCode);
        if (res.statusCode === 429) expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
      }
      expect(codes).toEqual([200, 200, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe("operations", () => {
  it("reports health, readiness, metrics and the OpenAPI document", async () => {
    expect((await h.app.inject({ url: "/healthz" })).statusCode).toBe(200);
    expect((await h.app.inject({ url: "/readyz" })).json()).toEqual({ status: "ready" });
    const metrics = (await h.app.inject({ url: "/metrics" })).body;
    expect(metrics).toMatch(/neurallog_ingested_logs_total\{endpoint="native"\} \d+/);
    expect(metrics).toMatch(/neurallog_rejected_total\{endpoint="native",reason="invalid_entry"\} \d+/);
    expect(metrics).toMatch(/neurallog_rejected_total\{endpoint="native",reason="too_large"\} \d+/);
    const doc = (await h.app.inject({ url: "/docs/json" })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/api/v1/logs", "/api/v1/stats", "/api/v1/logs/stream"]),
    );
  });
});

async function sha256Hex(text: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  return createHash("sha256").update(text).digest("hex");
}
