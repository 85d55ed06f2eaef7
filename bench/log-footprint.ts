/**
 * `npm run bench:log-footprint`: how many bytes of Redis memory one stored log takes, all included (the stream
 * entry in its stored form, its share of the batch index and of the stats hashes, the allocator's rounding). It
 * starts its own redis-server and a real `neurallog server`, posts BENCH_LOGS (200,000) realistic logs
 * (`realistic-logs.ts`, the lines `bench:ingest` sends) in NDJSON batches of BENCH_BATCH (1000), and reads
 * `INFO memory` used_memory before and after, and `MEMORY USAGE <key> SAMPLES 0` of each key.
 * `contracts/log-memory.ts` keeps the figure as `STORED_BYTES_PER_LOG` for `neurallog validate`.
 * Last line: `log-footprint: N bytes per log (used_memory delta over M logs)`.
 */
import { Redis } from "ioredis";
import { startBenchServer } from "./bench-server.ts";
import { realisticLines } from "./realistic-logs.ts";

const total = Number(process.env.BENCH_LOGS ?? 200_000);
const batch = Number(process.env.BENCH_BATCH ?? 1000);
const KEY = "bench-footprint-key-0123456789";

const usedMemory = async (redis: Redis): Promise<number> =>
  Number(/\bused_memory:(\d+)/.exec(await redis.info("memory"))?.[1]);

// Retention far above the logs sent: nothing is trimmed while measuring.
const bench = await startBenchServer(KEY, {
  NEURALLOG_RETENTION_MAX_ENTRIES: String(Math.max(1000, total * 2)),
  NEURALLOG_RETENTION_MAX_AGE: "2w",
});
const redis = new Redis(bench.redis.url);
try {
  const before = await usedMemory(redis);
  let sent = 0;
  const now = Date.now();
  for (let seed = 0; sent < total; seed++) {
    const lines = realisticLines(seed, Math.min(batch, total - sent), now + sent);
    const res = await fetch(`${bench.url}/api/v1/logs`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/x-ndjson" },
      body: lines.join("\n") + "\n",
    });
    if (res.status !== 200) throw new Error(`batch ${seed}: HTTP ${res.status} ${await res.text()}`);
    sent += lines.length;
  }
  const after = await usedMemory(redis);
  const keys = await redis.keys("nl:*");
  const byKind = new Map<string, number>();
  for (const key of keys) {
    const kind = key.replace(/^nl:\{[^}]+\}:/, "").replace(/:\d+$/, ":<hour>");
    const bytes = Number(await redis.call("MEMORY", "USAGE", key, "SAMPLES", "0"));
    byKind.set(kind, (byKind.get(kind) ?? 0) + bytes);
  }
  const stored = Number(await redis.xlen("nl:{bench}:logs"));
  if (stored !== total) throw new Error(`expected ${total} logs in the stream, found ${stored}`);
  for (const [kind, bytes] of byKind) {
    console.log(`${kind}: ${bytes} bytes, ${(bytes / total).toFixed(1)} per log (MEMORY USAGE SAMPLES 0)`);
  }
  console.log(`used_memory: ${before} -> ${after} bytes`);
  console.log(
    `log-footprint: ${Math.round((after - before) / total)} bytes per log (used_memory delta over ${total} logs)`,
  );
} finally {
  redis.disconnect();
  await bench.stop();
}
