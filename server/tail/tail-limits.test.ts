/**
 * The live-tail caps against a listening server and a real Redis, with real connections: 100 tails opened at once
 * get exactly the cap, the rest are refused (503 for the server's cap, 429 for a key's), and every way a tail ends
 * gives its slot back exactly once.
 */
import { request as httpRequest } from "node:http";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, READ_KEY, bearer, startHarness, type Harness } from "../../test/ingest/harness.ts";
import { openStream, type OpenStream } from "../../test/support/raw-http.ts";
import { startRedisServer, type RedisServerHandle } from "../../test/support/redis-server.ts";

const SERVER_CAP = 64;
const KEY_CAP = 4;

let redisServer: RedisServerHandle;
/** The test's own Redis connection (pausing, killing clients, CONFIG SET). */
let admin: Redis;

beforeAll(async () => {
  redisServer = await startRedisServer();
  admin = new Redis(redisServer.url);
});
afterAll(async () => {
  admin?.disconnect();
  await redisServer?.stop();
});

async function listening(env: Record<string, string>): Promise<{ h: Harness; url: string }> {
  const h = await startHarness({ redisServer, env });
  const url = await h.app.listen({ port: 0, host: "127.0.0.1" });
  return { h, url };
}

function tails(url: string, key: string, count: number): Promise<OpenStream[]> {
  return Promise.all(
    Array.from({ length: count }, () => openStream(`${url}/api/v1/logs/stream`, bearer(key))),
  );
}

/** The server's own count of open tails, from /metrics. */
async function openTails(h: Harness): Promise<number> {
  const text = await h.app.neurallog.metrics.text();
  const line = text.split("\n").find((l) => l.startsWith("neurallog_live_tails "));
  if (!line) throw new Error("no neurallog_live_tails in /metrics");
  return Number(line.split(" ")[1]);
}

/** Waits (bounded) until `check` holds, polling; never a fixed sleep. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const opened = (streams: readonly OpenStream[]) => streams.filter((s) => s.status === 200);
const refused = (streams: readonly OpenStream[]) => streams.filter((s) => s.status !== 200);

async function closeAll(h: Harness, streams: readonly OpenStream[]): Promise<void> {
  for (const s of streams) s.close();
  await until(async () => (await openTails(h)) === 0, "every tail slot back");
}

describe("the server's cap on live tails", () => {
  let h: Harness;
  let url: string;
  beforeAll(async () => {
    ({ h, url } = await listening({
      NEURALLOG_MAX_TAIL_CLIENTS: String(SERVER_CAP),
      NEURALLOG_MAX_TAIL_CLIENTS_PER_KEY: String(SERVER_CAP),
    }));
  });
  afterAll(async () => h?.close());

  it("opens exactly the cap of 100 simultaneous tails and refuses the rest with 503, twice over", async () => {
    for (const round of [1, 2]) {
      const streams = await tails(url, READ_KEY, 100);
      expect(opened(streams), `round ${round}`).toHaveLength(SERVER_CAP);
      expect(refused(streams)).toHaveLength(100 - SERVER_CAP);
      for (const s of refused(streams)) {
        expect(s.status).toBe(503);
        expect(Number(s.headers["retry-after"])).toBeGreaterThan(0);
        expect(JSON.parse(s.body)).toMatchObject({
          code: "NL_TAIL_LIMIT",
          limit: { scope: "server", setting: "NEURALLOG_MAX_TAIL_CLIENTS", value: SERVER_CAP },
        });
      }
      expect(await openTails(h)).toBe(SERVER_CAP);
      // The clients go away; every slot comes back (and only once: the second round gets the cap again).
      await closeAll(h, streams);
    }
  });
});

describe("each API key's cap on live tails", () => {
  let h: Harness;
  let url: string;
  beforeAll(async () => {
    ({ h, url } = await listening({
      NEURALLOG_MAX_TAIL_CLIENTS: String(SERVER_CAP),
      NEURALLOG_MAX_TAIL_CLIENTS_PER_KEY: String(KEY_CAP),
    }));
  });
  afterAll(async () => h?.close());

  /** Exactly KEY_CAP of 20 simultaneous tails of one key open; the rest get 429 naming the key's cap. */
  async function fillKey(key: string): Promise<OpenStream[]> {
    const streams = await tails(url, key, 20);
    expect(opened(streams)).toHaveLength(KEY_CAP);
    for (const s of refused(streams)) {
      expect(s.status).toBe(429);
      expect(Number(s.headers["retry-after"])).toBeGreaterThan(0);
      expect(JSON.parse(s.body)).toMatchObject({
        code: "NL_TAIL_LIMIT",
        limit: { scope: "key", setting: "NEURALLOG_MAX_TAIL_CLIENTS_PER_KEY", value: KEY_CAP },
      });
    }
    for (const s of refused(streams)) s.close();
    return opened(streams);
  }

  it("holds one key to its cap while another key still tails", async () => {
    const reader = await fillKey(READ_KEY);
    const other = await fillKey(ADMIN_KEY);
    expect(await openTails(h)).toBe(2 * KEY_CAP);
    // The first key's tails end: it gets its cap back while the other key's stay open.
    for (const s of reader) s.close();
    await until(async () => (await openTails(h)) === KEY_CAP, "the first key's slots back");
    const again = await fillKey(READ_KEY);
    await closeAll(h, [...again, ...other]);
  });

  it("gives the slot back exactly once however the tail ends", async () => {
    // Redis drops the tails' connections: the streams end and the slots come back.
    const dropped = await fillKey(READ_KEY);
    const clients = (await admin.client("LIST")) as string;
    const tailIds = clients
      .split("\n")
      .filter((line) => / name=neurallog-tail /.test(line))
      .map((line) => /^id=(\d+)/.exec(line)![1]!);
    expect(tailIds).toHaveLength(KEY_CAP);
    for (const id of tailIds) await admin.client("KILL", "ID", id);
    await Promise.all(dropped.map((s) => s.ended));
    await closeAll(h, dropped);

    // The clients go away while their tails still connect to Redis (paused; CLIENT UNPAUSE would wait too,
    // so the pause runs out by itself): the slots come back at once, not when Redis answers.
    await admin.client("PAUSE", 3000, "ALL");
    let answered = 0;
    const leaving = Array.from({ length: KEY_CAP }, () => {
      const req = httpRequest(`${url}/api/v1/logs/stream`, { headers: bearer(READ_KEY), agent: false });
      req.on("response", () => answered++);
      req.on("error", () => undefined);
      req.end();
      return req;
    });
    await until(async () => (await openTails(h)) === KEY_CAP, "the connecting tails to take their slots");
    expect(answered).toBe(0);
    for (const req of leaving) req.destroy();
    await until(async () => (await openTails(h)) === 0, "the slots of the tails that left while connecting");
    await closeAll(h, await fillKey(READ_KEY));

    // Redis refuses the tail's connection (503 log storage unavailable): the slot comes back each time.
    await admin.config("SET", "maxclients", "1");
    try {
      // One after another, twice the cap: were a refused tail's slot kept, the key's cap would answer 429.
      // (At once, the later ones may meet the earlier ones still connecting: a 429 that proves nothing.)
      for (let i = 0; i < 2 * KEY_CAP; i++) {
        const [s] = await tails(url, READ_KEY, 1);
        expect(s!.status, `tail ${i}`).toBe(503);
        expect(JSON.parse(s!.body).message).toMatch(/log storage is unavailable/);
      }
    } finally {
      await admin.config("SET", "maxclients", "10000");
    }
    expect(await openTails(h)).toBe(0);
    await closeAll(h, await fillKey(READ_KEY));
  });
});

describe("live tails at shutdown", () => {
  it("ends every tail and gives every slot back", async () => {
    const { h, url } = await listening({ NEURALLOG_MAX_TAIL_CLIENTS_PER_KEY: String(KEY_CAP) });
    try {
      const streams = opened(await tails(url, READ_KEY, KEY_CAP));
      expect(streams).toHaveLength(KEY_CAP);
      await h.app.close();
      await Promise.all(streams.map((s) => s.ended));
      expect(await openTails(h)).toBe(0);
    } finally {
      await h.close();
    }
  });
});
