/**
 * `npm run bench:ingest`: starts its own redis-server and NeuralLog server on free ports, drives batched NDJSON
 * from a separate load process for a fixed time, and prints logs/s, p50/p99 batch latency, the server's peak RSS,
 * and redis-benchmark's pipelined XADD rate on the same Redis as the ceiling. Last line:
 * `ingest: N logs/s, ceiling M/s, ratio R`.
 * Environment: BENCH_SECONDS (10), BENCH_BATCH (1000), BENCH_CONCURRENCY (4), BENCH_NODE_OPTIONS (the image's),
 * and the server's own variables (e.g. NEURALLOG_WORKERS=2).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort, startRedisServer } from "../test/support/redis-server.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const batch = Number(process.env.BENCH_BATCH ?? 1000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 4);
const KEY = "bench-ingest-key-0123456789";

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** The server and its worker processes (NEURALLOG_WORKERS > 1 forks children). */
async function serverPids(pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  return [pid, ...children.split(/\s+/).filter(Boolean).map(Number)];
}

async function treeRssKb(pid: number): Promise<number> {
  const sizes = await Promise.all((await serverPids(pid)).map(rssKb));
  return sizes.reduce((a, b) => a + b, 0);
}

/** CPU seconds (user + system) the server and its workers have used so far, from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
  let total = 0;
  for (const p of await serverPids(pid)) {
    const stat = await readFile(`/proc/${p}/stat`, "utf8").catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    total += (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return total;
}

async function waitReady(url: string, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`the server exited with code ${server.exitCode}`);
    const ok = await fetch(`${url}/readyz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the server did not become ready within 20 s");
}

function runNode(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: root, maxBuffer: 1 << 20 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${args[0]} failed: ${stderr}`, { cause: error })) : resolve(stdout),
    );
  });
}

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
    LOG_LEVEL: "warn",
    // The image's Node settings (server/Dockerfile): bounded young and old generations keep RSS in check.
    NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? "--max-semi-space-size=16 --max-old-space-size=256",
  },
  stdio: ["ignore", "ignore", "inherit"],
});
try {
  await waitReady(url, server);
  let peakRss = 0;
  const cpuBefore = await cpuSeconds(server.pid!);
  const redisCpuBefore = await cpuSeconds(redis.process.pid!);
  const sampler = setInterval(() => {
    void treeRssKb(server.pid!).then((kb) => (peakRss = Math.max(peakRss, kb)));
  }, 200);
  const load = JSON.parse(
    await runNode([
      join(root, "bench/ingest-load.ts"),
      url,
      KEY,
      String(seconds),
      String(batch),
      String(concurrency),
    ]),
  ) as { logs: number; batches: number; failures: number; seconds: number; p50Ms: number; p99Ms: number };
  clearInterval(sampler);
  const serverCpu = (await cpuSeconds(server.pid!)) - cpuBefore;
  const redisCpu = (await cpuSeconds(redis.process.pid!)) - redisCpuBefore;
  const rate = Math.round(load.logs / load.seconds);

  // The ceiling: Redis alone, XADD of a payload the size of a stored log, pipelined.
  const payload = "x".repeat(300);
  const { stdout } = await promisify(execFile)("redis-benchmark", [
    "-p",
    String(redis.port),
    "-q",
    "-n",
    "500000",
    "-P",
    "64",
    "XADD",
    "bench:{ceiling}",
    "*",
    "d",
    payload,
  ]);
  const ceiling = Math.round(Number(/([\d.]+) requests per second/.exec(stdout)?.[1] ?? 0));
  const xlen = await promisify(execFile)("redis-cli", ["-p", String(redis.port), "XLEN", "nl:{bench}:logs"]);

  console.log(`duration        ${load.seconds.toFixed(1)} s, batches of ${batch}, ${concurrency} concurrent`);
  console.log(`batches         ${load.batches} (${load.failures} failed)`);
  console.log(`stored logs     ${xlen.stdout.trim()} in the stream (retention may trim)`);
  console.log(`batch latency   p50 ${load.p50Ms.toFixed(1)} ms, p99 ${load.p99Ms.toFixed(1)} ms`);
  console.log(`server RSS      ${Math.round(peakRss / 1024)} MB peak`);
  console.log(
    `server CPU      ${serverCpu.toFixed(1)} s (${((serverCpu / load.seconds) * 100).toFixed(0)}% of a core), ` +
      `${((serverCpu * 1e6) / Math.max(1, load.logs)).toFixed(1)} µs per log`,
  );
  console.log(
    `redis CPU       ${redisCpu.toFixed(1)} s (${((redisCpu / load.seconds) * 100).toFixed(0)}% of a core), ` +
      `${((redisCpu * 1e6) / Math.max(1, load.logs)).toFixed(1)} µs per log`,
  );
  const [load1] = (await readFile("/proc/loadavg", "utf8")).split(" ");
  console.log(
    `machine load    ${load1} (1-min load average; this machine has ${availableParallelism()} cores)`,
  );
  console.log(`redis XADD      ${ceiling}/s (redis-benchmark -P 64)`);
  console.log(`ingest: ${rate} logs/s, ceiling ${ceiling}/s, ratio ${(rate / ceiling).toFixed(2)}`);
} finally {
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  await redis.stop();
}
