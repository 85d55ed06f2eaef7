/**
 * The server as a real process under load: SIGKILL loses no log whose request got a 2xx (Redis stays up; the
 * server is what dies), and SIGTERM drains in-flight requests and exits 0 with the same guarantee.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { tenantKeys } from "../../server/storage/keys.ts";
import { freePort, startRedisServer, type RedisServerHandle } from "../support/redis-server.ts";
import { REQUEST_TIMEOUT_MS, SpawnedServers, type ServerProcess } from "../support/server-process.ts";
import { API_KEYS, INGEST_KEY, READ_KEY } from "./harness.ts";

const LINES_PER_BATCH = 200;

let redisServer: RedisServerHandle;
let redis: Redis;
/** afterEach kills what a failed test left running (with its workers: a process group). */
const servers = new SpawnedServers();

beforeAll(async () => {
  redisServer = await startRedisServer();
  redis = new Redis(redisServer.url);
});
afterEach(() => servers.killAll());
afterAll(async () => {
  redis?.disconnect();
  await redisServer?.stop();
});

function spawnServer(tenant: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  return servers.spawn({ redisUrl: redisServer.url, tenant, apiKeys: API_KEYS, env });
}

function startServer(tenant: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  return servers.start({ redisUrl: redisServer.url, tenant, apiKeys: API_KEYS, env });
}

/** Posts numbered batches from several loops until told to stop; returns the batch numbers that got a 2xx. */
function load(url: string) {
  const acked: number[] = [];
  let next = 0;
  let running = true;
  const loops = Array.from({ length: 4 }, async () => {
    while (running && next < 10_000) {
      const batch = next++;
      const body = Array.from({ length: LINES_PER_BATCH }, (_, i) =>
        JSON.stringify({ msg: `k ${batch} ${i}` }),
      ).join("\n");
      try {
        const res = await fetch(`${url}/api/v1/logs`, {
          method: "POST",
          headers: { authorization: `Bearer ${INGEST_KEY}`, "content-type": "application/x-ndjson" },
          body,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        await res.arrayBuffer();
        if (res.status === 200) acked.push(batch);
      } catch {
        // The server died or closed: this batch was not acknowledged.
      }
    }
  });
  return {
    acked,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Every stored (batch, line) pair, read straight from Redis. */
async function storedLines(tenant: string): Promise<Set<string>> {
  const key = tenantKeys(tenant).logs;
  const seen = new Set<string>();
  let start = "-";
  for (;;) {
    const page = (await redis.xrange(key, start, "+", "COUNT", 5000)) as [string, string[]][];
    for (const [, kv] of page) {
      const message = (JSON.parse(kv[1]!) as { m: string }).m;
      seen.add(message);
    }
    if (page.length < 5000) return seen;
    start = `(${page[page.length - 1]![0]}`;
  }
}

function missing(acked: readonly number[], stored: Set<string>): string[] {
  const lost: string[] = [];
  for (const batch of acked) {
    for (let i = 0; i < LINES_PER_BATCH; i++)
      if (!stored.has(`k ${batch} ${i}`)) lost.push(`k ${batch} ${i}`);
  }
  return lost;
}

async function waitForAcks(acked: readonly number[], n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (acked.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(acked.length).toBeGreaterThanOrEqual(n);
}

describe("server process", () => {
  it("loses no acknowledged log when killed with SIGKILL under load", async () => {
    const server = await startServer("killed");
    const traffic = load(server.url);
    await waitForAcks(traffic.acked, 20);
    server.child.kill("SIGKILL");
    await server.exited();
    await traffic.stop();
    const stored = await storedLines("killed");
    expect(missing(traffic.acked, stored)).toEqual([]);
    expect(stored.size).toBeGreaterThanOrEqual(traffic.acked.length * LINES_PER_BATCH);
  });

  it("serves from several worker processes with metrics summed over all of them", async () => {
    const server = await startServer("workers", { NEURALLOG_WORKERS: "2" });
    const traffic = load(server.url);
    await waitForAcks(traffic.acked, 12);
    await traffic.stop();
    const metrics = await (
      await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
    ).text();
    const counted = Number(/^neurallog_ingested_logs_total\{endpoint="native"\} (\d+)/m.exec(metrics)?.[1]);
    expect(counted).toBe(traffic.acked.length * LINES_PER_BATCH);
    server.child.kill("SIGTERM");
    expect(await server.exited()).toBe(0);
    expect(missing(traffic.acked, await storedLines("workers"))).toEqual([]);
  });

  it("reaches a Redis that requires a password through REDIS_PASSWORD_FILE: ingest, query and the live tail's own connection", async () => {
    const password = "file-pw-0123456789abcdef";
    const locked = await startRedisServer({ args: ["--requirepass", password] });
    const dir = await mkdtemp(join(tmpdir(), "nl-redis-pw-"));
    try {
      await writeFile(join(dir, "password"), `${password}\n`, { mode: 0o440 });
      const server = await servers.start({
        redisUrl: locked.url,
        tenant: "locked",
        apiKeys: API_KEYS,
        env: { REDIS_PASSWORD_FILE: join(dir, "password"), NEURALLOG_WORKERS: "2" },
      });
      const tail = await fetch(`${server.url}/api/v1/logs/stream`, {
        headers: { authorization: `Bearer ${READ_KEY}` },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      expect(tail.status).toBe(200);
      const ingest = await fetch(`${server.url}/api/v1/logs`, {
        method: "POST",
        headers: { authorization: `Bearer ${INGEST_KEY}`, "content-type": "application/json" },
        body: JSON.stringify([{ msg: "behind a password" }]),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      expect(ingest.status).toBe(200);
      const reader = tail.body!.getReader();
      let streamed = "";
      while (!streamed.includes("behind a password")) {
        const { value, done } = await reader.read();
        if (done) break;
        streamed += new TextDecoder().decode(value);
      }
      expect(streamed).toContain("behind a password");
      await reader.cancel();
      const query = await fetch(`${server.url}/api/v1/logs?q=password`, {
        headers: { authorization: `Bearer ${READ_KEY}` },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      expect(
        ((await query.json()) as { entries: { message: string }[] }).entries.map((l) => l.message),
      ).toEqual(["behind a password"]);
      server.child.kill("SIGTERM");
      expect(await server.exited()).toBe(0);
    } finally {
      await locked.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses to start when REDIS_PASSWORD_FILE cannot be read, naming the file and not its content", async () => {
    const server = await servers.spawn({
      redisUrl: redisServer.url,
      tenant: "nopw",
      apiKeys: API_KEYS,
      env: { REDIS_PASSWORD_FILE: "/nonexistent/redis-auth/password" },
    });
    expect(await server.exited()).not.toBe(0);
    expect(server.stderr()).toContain(
      "REDIS_PASSWORD_FILE: cannot read /nonexistent/redis-auth/password (ENOENT)",
    );
  });

  it("stops every worker gracefully (exit 0) on SIGTERM right after the first one got ready", async () => {
    // The other worker may still be loading: SIGTERM must drain it, not kill it by the signal.
    const server = await startServer("workers-early", { NEURALLOG_WORKERS: "2" });
    server.child.kill("SIGTERM");
    expect(await server.exited()).toBe(0);
  });

  it("exits 0 on SIGTERM while still waiting for an unreachable Redis", async () => {
    const server = await spawnServer("no-redis", { REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    // The first connection error is logged after the signal handlers are installed.
    const deadline = Date.now() + 20_000;
    while (!server.stdout().includes("redis connection error") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(server.stdout()).toContain("redis connection error");
    server.child.kill("SIGTERM");
    expect(await server.exited()).toBe(0);
  });

  it("drains in-flight requests on SIGTERM and exits 0", async () => {
    const server = await startServer("drained");
    const traffic = load(server.url);
    await waitForAcks(traffic.acked, 20);
    server.child.kill("SIGTERM");
    expect(await server.exited()).toBe(0);
    await traffic.stop();
    const stored = await storedLines("drained");
    expect(missing(traffic.acked, stored)).toEqual([]);
  });
});
