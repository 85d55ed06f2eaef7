/**
 * The load side of `npm run bench:ingest`, run as its own process so its CPU is not the server's: POSTs
 * pre-built NDJSON batches over keep-alive connections for a fixed time and prints one JSON line of results.
 * Usage: node bench/ingest-load.ts URL KEY SECONDS BATCH CONCURRENCY
 */
import { Agent, request } from "node:http";
import { realisticLines } from "./realistic-logs.ts";

const [url = "", key = "", secondsText = "10", batchText = "1000", concurrencyText = "4"] =
  process.argv.slice(2);
const seconds = Number(secondsText);
const batchSize = Number(batchText);
const concurrency = Number(concurrencyText);

/** The shared realistic lines, one NDJSON body per seed. */
function body(seed: number): Buffer {
  return Buffer.from(realisticLines(seed, batchSize).join("\n") + "\n");
}

const bodies = Array.from({ length: 16 }, (_, i) => body(i));
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const target = new URL("/api/v1/logs", url);

function post(payload: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: "POST",
        agent,
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": "application/x-ndjson",
          "content-length": payload.length,
        },
      },
      (res) => {
        res.resume();
        res.once("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.once("error", reject);
    req.end(payload);
  });
}

const latencies: number[] = [];
let logs = 0;
let failures = 0;
const deadline = Date.now() + seconds * 1000;
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async (_, worker) => {
    for (let i = worker; Date.now() < deadline; i += concurrency) {
      const t0 = performance.now();
      const status = await post(bodies[i % bodies.length]!).catch(() => 0);
      latencies.push(performance.now() - t0);
      if (status === 200) logs += batchSize;
      else failures++;
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number): number =>
  latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
agent.destroy();
console.log(
  JSON.stringify({
    logs,
    batches: latencies.length,
    failures,
    seconds: elapsed,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
  }),
);
