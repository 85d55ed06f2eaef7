/**
 * `npm run bench:rules`: ingest throughput of the real server with 0, 20 and 200 active rules, and with 20 rules
 * whose webhooks point at a dead endpoint (accepts connections, never answers). Each configuration gets its own
 * redis-server and server process (rules loaded from NEURALLOG_RULES_FILE); the load comes from
 * bench/ingest-load.ts in a separate process (batches of 1,000 varied NDJSON logs).
 * Last line: `rules: 0=N/s 20=M/s 200=K/s ratio R dead-webhook=D/s ratio Q` (R = 200 vs 0, Q = dead vs 20).
 * Environment: BENCH_SECONDS (8), BENCH_BATCH (1000), BENCH_CONCURRENCY (4).
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort, startRedisServer } from "../test/support/redis-server.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const batch = Number(process.env.BENCH_BATCH ?? 1000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 4);
const KEY = "bench-rules-key-0123456789";
const SERVICES = ["api", "auth", "billing", "search", "worker"];
const LEVELS = ["debug", "info", "warn", "error"];

/**
 * A realistic mix over the fields the load generator sends (level, service, http.*, user.id, message): every rule
 * type, conditions of every kind, group-by on low and high cardinality fields. Rule i varies its filter by i so
 * no two rules are the same.
 */
function ruleSet(count: number, webhook?: string): object[] {
  const actions = webhook ? [{ type: "webhook", url: webhook, timeout: "2s", maxAttempts: 5 }] : undefined;
  return Array.from({ length: count }, (_, i) => {
    const service = SERVICES[i % SERVICES.length]!;
    const level = LEVELS[i % LEVELS.length]!;
    const base = { id: `bench-${i}`, name: `bench rule ${i}`, ...(actions ? { actions } : {}) };
    switch (i % 10) {
      case 0:
        return {
          ...base,
          type: "any",
          when: { all: [{ level: "error" }, { field: "source", equals: service }] },
          groupBy: [i % 50 === 0 ? "user.id" : "http.path"],
        };
      case 1:
        return {
          ...base,
          type: "frequency",
          when: { field: "http.status", gte: 500 },
          window: "1m",
          threshold: 50 + i,
          groupBy: ["source"],
        };
      case 2:
        return {
          ...base,
          type: "flatline",
          when: { field: "source", equals: service },
          window: "1m",
          threshold: 1,
        };
      case 3:
        return { ...base, type: "spike", when: { level }, window: "1m", ratio: 3, minCount: 100 };
      case 4:
        return { ...base, type: "new_value", field: "http.path", groupBy: ["source"] };
      case 5:
        return {
          ...base,
          type: "cardinality",
          field: "user.id",
          window: "1m",
          threshold: 900 + i,
          when: { field: "source", equals: service },
        };
      case 6:
        return {
          ...base,
          type: "change",
          field: "http.method",
          groupBy: ["source"],
          when: { contains: `/api/v1/${i % 2 ? "users" : "orders"}` },
        };
      case 7:
        return {
          ...base,
          type: "aggregate",
          field: "http.status",
          aggregation: "percentile",
          percentile: 99,
          window: "1m",
          threshold: 499,
          when: { field: "source", in: [service, "api"] },
        };
      case 8:
        return { ...base, type: "any", when: { regex: `timeout|refused|conn-${i}`, ignoreCase: true } };
      default:
        // One rule in fifty counts per user (1,000 users): high-cardinality groups cost a state update each.
        return {
          ...base,
          type: "frequency",
          when: { any: [{ contains: "login" }, { not: { exists: true, field: "user.id" } }] },
          window: "5m",
          threshold: 10_000 + i,
          groupBy: [i % 50 === 9 ? "user.id" : "source"],
        };
    }
  });
}

/** Accepts TCP connections and never answers: the worst kind of webhook target. */
async function deadEndpoint(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  return {
    url: `http://127.0.0.1:${port}/hook`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function waitReady(url: string, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (exited()) throw new Error("the server exited before it was ready");
    if (
      await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the server did not become ready within 20 s");
}

interface Run {
  readonly rate: number;
  readonly p99Ms: number;
  readonly failures: number;
  readonly alerts: number;
  readonly pendingJobs: number;
}

async function measure(rules: object[]): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), "nl-bench-rules-"));
  const rulesFile = join(dir, "rules.json");
  await writeFile(rulesFile, JSON.stringify(rules));
  const redis = await startRedisServer();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, [join(root, "bin/neurallog.ts"), "server"], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      REDIS_URL: redis.url,
      NEURALLOG_TENANT: "bench",
      NEURALLOG_API_KEYS: JSON.stringify([{ name: "bench", key: KEY, scopes: ["ingest", "read"] }]),
      NEURALLOG_RULES_FILE: rulesFile,
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  try {
    await waitReady(url, () => server.exitCode !== null);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(root, "bench/ingest-load.ts"), url, KEY, String(seconds), String(batch), String(concurrency)],
      { cwd: root, maxBuffer: 1 << 20 },
    );
    const load = JSON.parse(stdout) as { logs: number; seconds: number; failures: number; p99Ms: number };
    const cli = (...args: string[]) =>
      promisify(execFile)("redis-cli", ["-p", String(redis.port), ...args]).then((r) => r.stdout.trim());
    const alerts = Number(await cli("ZCARD", "nl:{bench}:alerts"));
    const pending = (await cli("XPENDING", "nl:{bench}:actions", "actions")).split("\n")[0] ?? "0";
    return {
      rate: Math.round(load.logs / load.seconds),
      p99Ms: load.p99Ms,
      failures: load.failures,
      alerts,
      pendingJobs: Number(pending) || 0,
    };
  } finally {
    server.kill("SIGTERM");
    await new Promise((r) => (server.exitCode !== null ? r(undefined) : server.once("exit", r)));
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const dead = await deadEndpoint();
try {
  const results: Record<string, Run> = {};
  for (const [name, rules] of [
    ["0", ruleSet(0)],
    ["20", ruleSet(20)],
    ["200", ruleSet(200)],
    ["20+dead-webhook", ruleSet(20, dead.url)],
  ] as const) {
    const run = await measure(rules);
    results[name] = run;
    console.log(
      `${name.padEnd(16)} ${String(run.rate).padStart(7)} logs/s  p99 ${run.p99Ms.toFixed(1)} ms  ` +
        `${run.failures} failed batches  ${run.alerts} alerts  ${run.pendingJobs} action jobs in flight`,
    );
  }
  const r = (a: string, b: string) => (results[a]!.rate / Math.max(1, results[b]!.rate)).toFixed(2);
  console.log(
    `rules: 0=${results["0"]!.rate}/s 20=${results["20"]!.rate}/s 200=${results["200"]!.rate}/s ratio ${r("200", "0")} ` +
      `dead-webhook=${results["20+dead-webhook"]!.rate}/s ratio ${r("20+dead-webhook", "20")}`,
  );
} finally {
  await dead.close();
}
