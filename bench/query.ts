/**
 * `npm run bench:query [-- --logs N]`: starts its own redis-server and NeuralLog server, stores N logs (default
 * 1,000,000) through the HTTP ingest API, and times the six query shapes of issue 14 over `GET /api/v1/logs`, 40
 * times each (p50/p99), beside `grep -c` over the same logs as an NDJSON file on disk (page cache), in the same run.
 * It prints the index's Redis memory (`MEMORY USAGE` of the batches stream, and the `INFO memory` delta of the
 * whole load), the ingest rate with the index on, and the 1-minute load average next to each figure (the machine
 * is shared). Last line: `query: N logs, worst p99 X ms, grep Y ms, index Z MB/M logs`.
 *
 * The logs (documented in bench/README.md): batches of 5,000; 20 services (`svc-0`..`svc-19`, the source);
 * 5,000 users (`user`, uniformly random, so a user is in about N/5,000 logs spread over every batch); levels
 * debug 10% / info 70% / warn 15% / error 5%; `http.status` 500 in 2%; a message of a verb, a path, one of 8
 * words, a duration and a unique request id; a unique `trace_id`; one log every 10 ms of event time; the token
 * `zqxneedle` in exactly 10 logs, spread evenly.
 * Options: --logs N, --runs R (40), --concurrency C (4 batches in flight while loading).
 */
import { execFile } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { startBenchServer } from "./bench-server.ts";
import { seededRandom as random } from "../test/support/seeded-random.ts";

const { values } = parseArgs({
  options: {
    logs: { type: "string", default: "1000000" },
    runs: { type: "string", default: "40" },
    concurrency: { type: "string", default: "4" },
  },
});
const LOGS = Number(values.logs);
const RUNS = Number(values.runs);
const CONCURRENCY = Number(values.concurrency);
const BATCH = 5000;
const SERVICES = 20;
const USERS = 5000;
const NEEDLE = "zqxneedle";
const NEEDLES = 10;
const WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];
const PATHS = [
  "/api/v1/users",
  "/api/v1/orders",
  "/api/v1/search",
  "/login",
  "/health",
  "/cart",
  "/pay",
  "/",
];
const VERBS = ["GET", "POST", "PUT", "DELETE"];
const T0 = Date.UTC(2026, 10, 1);
const STEP_MS = 10;
const KEY = "bench-query-key-0123456789";
const run = promisify(execFile);

const rand = random(14);
const needleEvery = Math.floor(LOGS / NEEDLES);

function logLine(n: number): string {
  const r = rand();
  const level = r < 0.1 ? "debug" : r < 0.8 ? "info" : r < 0.95 ? "warn" : "error";
  const path = PATHS[Math.floor(rand() * PATHS.length)]!;
  const word = WORDS[Math.floor(rand() * WORDS.length)]!;
  const needle = n % needleEvery === Math.floor(needleEvery / 2) ? ` ${NEEDLE}` : "";
  return JSON.stringify({
    time: new Date(T0 + n * STEP_MS).toISOString(),
    level,
    msg: `${VERBS[Math.floor(rand() * VERBS.length)]} ${path} ${word} took ${Math.floor(rand() * 1000)} ms req-${n.toString(36)}${needle}`,
    service: `svc-${Math.floor(rand() * SERVICES)}`,
    user: `u${Math.floor(rand() * USERS)}`,
    http: { status: rand() < 0.02 ? 500 : 200, path },
    trace_id:
      (Math.imul(n, 2654435761) >>> 0).toString(16).padStart(8, "0") + n.toString(16).padStart(24, "0"),
  });
}

async function load1(): Promise<string> {
  return (await readFile("/proc/loadavg", "utf8")).split(" ")[0]!;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/\nused_memory:(\d+)/.exec(await redis.info("memory"))?.[1]);
}

const dir = await mkdtemp(join(tmpdir(), "nl-bench-query-"));
const file = join(dir, "logs.ndjson");
const {
  url,
  redis: redisServer,
  stop,
} = await startBenchServer(KEY, {
  // The image's Node settings, as bench:ingest: the server's index copy is bounded by this heap (1/8 of it).
  NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? "--max-semi-space-size=16 --max-old-space-size=256",
  NEURALLOG_RETENTION_MAX_ENTRIES: String(Math.max(1_000_000, LOGS * 2)),
});
const redis = new Redis(redisServer.url);
try {
  const memoryBefore = await usedMemory(redis);
  const out = createWriteStream(file);
  const loadStart = performance.now();
  let next = 0;
  const post = async (): Promise<void> => {
    while (next < LOGS) {
      const from = next;
      const size = Math.min(BATCH, LOGS - from);
      next += size;
      const lines: string[] = [];
      for (let i = 0; i < size; i++) lines.push(logLine(from + i));
      const body = lines.join("\n") + "\n";
      out.write(body);
      const res = await fetch(`${url}/api/v1/logs`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/x-ndjson" },
        body,
      });
      if (!res.ok) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
    }
  };
  // Batches are posted in order by each of C loops; the stream order is the posting order.
  await Promise.all(Array.from({ length: CONCURRENCY }, post));
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const loadAtIngest = await load1();
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  const memoryAfter = await usedMemory(redis);
  const indexBytes = Number(await redis.call("MEMORY", "USAGE", "nl:{bench}:batches", "SAMPLES", "0"));
  const logsBytes = Number(await redis.call("MEMORY", "USAGE", "nl:{bench}:logs", "SAMPLES", "0"));
  const stored = await redis.xlen("nl:{bench}:logs");
  const perMillion = 1_000_000 / stored;

  const mid = T0 + Math.floor(LOGS / 2) * STEP_MS;
  const shapes: [string, string][] = [
    [`q=<token in ${NEEDLES} logs>`, `q=${NEEDLE}`],
    [`field.user=<value in ~${Math.round(LOGS / USERS)} logs>, limit 100`, "field.user=u1234&limit=100"],
    ["source=svc-3&q=gamma", "source=svc-3&q=gamma"],
    ["field.http.status=500", "field.http.status=500"],
    ["a 1-minute from/to window in the middle", `from=${mid}&to=${mid + 60_000}`],
    ["level=error, newest 100", "level=error&limit=100"],
  ];
  const search = async (query: string): Promise<{ ms: number; entries: number }> => {
    const start = performance.now();
    const res = await fetch(`${url}/api/v1/logs?${query}`, { headers: { authorization: `Bearer ${KEY}` } });
    const body = (await res.json()) as { entries: unknown[] };
    if (!res.ok) throw new Error(`${query} answered ${res.status}`);
    return { ms: performance.now() - start, entries: body.entries.length };
  };
  // The first query after start loads the index into the server (BatchCatalog); it is reported on its own.
  const cold = await search(`q=${NEEDLE}`);

  console.log(
    `logs            ${stored} stored in ${loadSeconds.toFixed(1)} s (load average ${loadAtIngest})`,
  );
  console.log(
    `ingest          ${Math.round(stored / loadSeconds)} logs/s with the index (HTTP, batches of ${BATCH}, ${CONCURRENCY} in flight, generator in the same process)`,
  );
  console.log(
    `redis memory    ${((memoryAfter - memoryBefore) / stored).toFixed(0)} B/log used_memory delta; logs stream ${(logsBytes / stored).toFixed(0)} B/log`,
  );
  console.log(
    `index memory    ${((indexBytes * perMillion) / 2 ** 20).toFixed(1)} MB per million logs (MEMORY USAGE nl:{bench}:batches, ${(indexBytes / stored).toFixed(1)} B/log)`,
  );
  console.log(`cold query      ${cold.ms.toFixed(1)} ms (first query: loads the index into the server)`);
  let worst = 0;
  for (const [name, query] of shapes) {
    const times: number[] = [];
    let entries = 0;
    for (let i = 0; i < RUNS; i++) {
      const { ms, entries: n } = await search(query);
      times.push(ms);
      entries = n;
    }
    times.sort((a, b) => a - b);
    const p99 = percentile(times, 99);
    worst = Math.max(worst, p99);
    console.log(
      `${name.padEnd(48)} p50 ${percentile(times, 50).toFixed(1).padStart(6)} ms  p99 ${p99.toFixed(1).padStart(6)} ms  ` +
        `${entries} entries  (load average ${await load1()})`,
    );
  }
  const grepTimes: number[] = [];
  let grepCount = "";
  await run("grep", ["-c", NEEDLE, file]); // into the page cache
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    grepCount = (await run("grep", ["-c", NEEDLE, file])).stdout.trim();
    grepTimes.push(performance.now() - start);
  }
  grepTimes.sort((a, b) => a - b);
  const grepMs = percentile(grepTimes, 50);
  console.log(
    `grep -c         ${grepMs.toFixed(1)} ms median of 5 (${grepCount} lines) over ${file.replace(dir, "<tmp>")} (load average ${await load1()})`,
  );
  console.log(
    `query: ${stored} logs, worst p99 ${worst.toFixed(1)} ms, grep ${grepMs.toFixed(1)} ms, index ${((indexBytes * perMillion) / 2 ** 20).toFixed(1)} MB/M logs`,
  );
} finally {
  redis.disconnect();
  await stop();
  await rm(dir, { recursive: true, force: true });
}
