/**
 * `npm run bench:rules`: ingest throughput of the real server with 0, 20 and 200 active rules, and with 20 rules
 * whose webhooks point at a dead endpoint (accepts connections, never answers). Each configuration gets its own
 * redis-server and server process (rules loaded from NEURALLOG_RULES_FILE); the load comes from
 * bench/ingest-load.ts in a separate process (batches of 1,000 varied NDJSON logs).
 * Last line: `rules: 0=N/s 20=M/s 200=K/s ratio R dead-webhook=D/s ratio Q` (R = 200 vs 0, Q = dead vs 20).
 * The four servers run side by side; rounds interleave them and the medians are reported.
 * Environment: BENCH_SECONDS per sample (4), BENCH_ROUNDS (3), BENCH_BATCH (1000), BENCH_CONCURRENCY (4),
 * BENCH_PER_USER_EVERY (0: none; 50: one rule in 50 groups by user id, 1,000 users).
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../test/support/redis-server.ts";
import { cpuSeconds, root, startBenchServer, type BenchServer } from "./bench-server.ts";

const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const batch = Number(process.env.BENCH_BATCH ?? 1000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 4);
const KEY = "bench-rules-key-0123456789";
/**
 * The default rule mix groups by low-cardinality fields (source, path). BENCH_PER_USER_EVERY=50 makes one rule in
 * 50 group by user id (1,000 distinct users, 20% of logs match): the heavy case, each group a state update per batch.
 */
const PER_USER = Number(process.env.BENCH_PER_USER_EVERY ?? 0);
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
          groupBy: [i % PER_USER === 0 ? "user.id" : "http.path"],
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
        return {
          ...base,
          type: "frequency",
          when: { any: [{ contains: "login" }, { not: { exists: true, field: "user.id" } }] },
          window: "5m",
          threshold: 10_000 + i,
          groupBy: [i % PER_USER === 9 ? "user.id" : "source"],
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

interface Sample {
  readonly rate: number;
  /** CPU time per stored log of the server and of Redis: steadier than logs/s on a busy machine. */
  readonly serverUs: number;
  readonly redisUs: number;
  readonly p99Ms: number;
  readonly failures: number;
}

/** One configuration: its own redis-server and server process, kept running across the rounds. */
interface Target {
  readonly name: string;
  readonly url: string;
  sample(seconds: number): Promise<Sample>;
  /** Alerts recorded and action jobs still in flight (pending in the consumer group). */
  status(): Promise<{ alerts: number; pendingJobs: number }>;
  stop(): Promise<void>;
}

async function startTarget(name: string, rules: object[]): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), "nl-bench-rules-"));
  const rulesFile = join(dir, "rules.json");
  await writeFile(rulesFile, JSON.stringify(rules));
  let bench: BenchServer;
  try {
    bench = await startBenchServer(KEY, { NEURALLOG_RULES_FILE: rulesFile });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const { url, server, redis } = bench;
  const stop = async () => {
    await bench.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const cli = (...args: string[]) =>
    promisify(execFile)("redis-cli", ["-p", String(redis.port), ...args]).then((r) => r.stdout.trim());
  return {
    name,
    url,
    stop,
    async sample(seconds: number) {
      const serverCpu0 = await cpuSeconds(server.pid!);
      const redisCpu0 = await cpuSeconds(redis.process.pid!);
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [join(root, "bench/ingest-load.ts"), url, KEY, String(seconds), String(batch), String(concurrency)],
        { cwd: root, maxBuffer: 1 << 20 },
      );
      const load = JSON.parse(stdout) as { logs: number; seconds: number; failures: number; p99Ms: number };
      const perLog = (cpu: number) => (cpu * 1e6) / Math.max(1, load.logs);
      return {
        rate: load.logs / load.seconds,
        serverUs: perLog((await cpuSeconds(server.pid!)) - serverCpu0),
        redisUs: perLog((await cpuSeconds(redis.process.pid!)) - redisCpu0),
        p99Ms: load.p99Ms,
        failures: load.failures,
      };
    },
    async status() {
      const alerts = Number(await cli("ZCARD", "nl:{bench}:alerts"));
      const pending = (await cli("XPENDING", "nl:{bench}:actions", "actions")).split("\n")[0] ?? "0";
      return { alerts, pendingJobs: Number(pending) || 0 };
    },
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

const dead = await deadEndpoint();
const targets: Target[] = [];
try {
  for (const [name, rules] of [
    ["0", ruleSet(0)],
    ["20", ruleSet(20)],
    ["200", ruleSet(200)],
    ["20+dead-webhook", ruleSet(20, dead.url)],
  ] as const) {
    targets.push(await startTarget(name, rules));
  }
  // A short unmeasured run first: JIT warm-up and the first alerts of a rule set are not steady state.
  for (const target of targets) await target.sample(2);
  // Rounds interleave the configurations, so a busy moment of the machine does not land on one of them only.
  const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round++) {
    // Rotated each round: a configuration must not always follow the same (maybe still busy) neighbour.
    for (let k = 0; k < targets.length; k++) {
      const target = targets[(round + k) % targets.length]!;
      samples.get(target.name)!.push(await target.sample(seconds));
    }
  }
  const rate: Record<string, number> = {};
  for (const target of targets) {
    const runs = samples.get(target.name)!;
    const { alerts, pendingJobs } = await target.status();
    rate[target.name] = Math.round(median(runs.map((r) => r.rate)));
    console.log(
      `${target.name.padEnd(16)} ${String(rate[target.name]).padStart(7)} logs/s (median of ${runs.length})  ` +
        `p99 ${median(runs.map((r) => r.p99Ms)).toFixed(0)} ms  ` +
        `CPU per log: server ${median(runs.map((r) => r.serverUs)).toFixed(1)} µs, redis ${median(runs.map((r) => r.redisUs)).toFixed(1)} µs  ` +
        `${runs.reduce((n, r) => n + r.failures, 0)} failed batches  ${alerts} alerts  ${pendingJobs} action jobs in flight`,
    );
  }
  const ratio = (a: string, b: string) => (rate[a]! / Math.max(1, rate[b]!)).toFixed(2);
  console.log(
    `rules: 0=${rate["0"]}/s 20=${rate["20"]}/s 200=${rate["200"]}/s ratio ${ratio("200", "0")} ` +
      `dead-webhook=${rate["20+dead-webhook"]}/s ratio ${ratio("20+dead-webhook", "20")}`,
  );
} finally {
  for (const target of targets) await target.stop();
  await dead.close();
}
