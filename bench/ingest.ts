/**
 * `npm run bench:ingest`: starts its own redis-server and NeuralLog server on free ports, drives batched NDJSON
 * from a separate load process for a fixed time, and prints logs/s, p50/p99 batch latency, the server's peak RSS,
 * and redis-benchmark's pipelined XADD rate on the same Redis as the ceiling. Last line:
 * `ingest: N logs/s, ceiling M/s, ratio R`.
 * Environment: BENCH_SECONDS (10), BENCH_BATCH (1000), BENCH_CONCURRENCY (4), BENCH_NODE_OPTIONS (the image's),
 * BENCH_APPENDONLY (yes: Redis as tenants run it, `appendonly yes`, `appendfsync everysec`, for the server and
 * the ceiling alike; no: in memory only), and the server's own variables (e.g. NEURALLOG_WORKERS=2).
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { cpuSeconds, root, startBenchServer, treeRssKb } from "./bench-server.ts";

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const batch = Number(process.env.BENCH_BATCH ?? 1000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 4);
const KEY = "bench-ingest-key-0123456789";

function runNode(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: root, maxBuffer: 1 << 20 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${args[0]} failed: ${stderr}`, { cause: error })) : resolve(stdout),
    );
  });
}

const appendOnly = (process.env.BENCH_APPENDONLY ?? "yes") !== "no";
const { url, server, redis, stop } = await startBenchServer(
  KEY,
  {
    // The image's Node settings (image/build.ts): bounded young and old generations keep RSS in check.
    NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? "--max-semi-space-size=16 --max-old-space-size=256",
  },
  appendOnly ? ["--appendonly", "yes", "--appendfsync", "everysec"] : [],
);
try {
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
  console.log(
    `redis XADD      ${ceiling}/s (redis-benchmark -P 64, ${appendOnly ? "appendonly yes, appendfsync everysec" : "no AOF"})`,
  );
  console.log(`ingest: ${rate} logs/s, ceiling ${ceiling}/s, ratio ${(rate / ceiling).toFixed(2)}`);
} finally {
  await stop();
}
