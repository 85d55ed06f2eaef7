/**
 * `npm run bench:loki-read [-- --logs N --runs R]`: starts its own redis-server and NeuralLog server, pushes N logs
 * (default 200,000) through the Loki push API, and times the requests Grafana's Loki data source makes over Loki's
 * read API (`/loki/api/v1/...`), R times each (default 20; p50/p99), with the 1-minute load average beside each.
 *
 * The logs: one every 18 ms of event time ending now (200,000 span an hour, the range Explore opens with); 20
 * services (`service_name` `svc-0`..`svc-19`), levels debug 10% / info 70% / warn 15% / error 5%, an `env`
 * label, a logfmt line `method=... path=... status=... duration=...ms` with status 500 in 2%, and the token
 * `zqxneedle` in exactly 10 lines. Last line: `loki-read: N logs, worst p99 X ms (shape)`.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { startBenchServer } from "./bench-server.ts";
import { seededRandom as random } from "../test/support/seeded-random.ts";

const { values } = parseArgs({
  options: { logs: { type: "string", default: "200000" }, runs: { type: "string", default: "20" } },
});
const LOGS = Number(values.logs);
const RUNS = Number(values.runs);
const KEY = "bench-loki-read-key-0123456789";
const BATCH = 5000;
const STEP_MS = 18;
const END = Date.now();
const START = END - LOGS * STEP_MS;
const NEEDLE = "zqxneedle";

const rand = random(14);

function batch(from: number, size: number): string {
  const streams = new Map<string, { stream: Record<string, string>; values: [string, string][] }>();
  const needleEvery = Math.floor(LOGS / 10);
  for (let n = from; n < from + size; n++) {
    const r = rand();
    const level = r < 0.1 ? "debug" : r < 0.8 ? "info" : r < 0.95 ? "warn" : "error";
    const service = `svc-${Math.floor(rand() * 20)}`;
    const env = rand() < 0.5 ? "prod" : "dev";
    const key = `${service}/${level}/${env}`;
    const stream = streams.get(key) ?? { stream: { service_name: service, level, env }, values: [] };
    const status = rand() < 0.02 ? 500 : 200;
    const needle = n % needleEvery === Math.floor(needleEvery / 2) ? ` ${NEEDLE}` : "";
    const line = `method=GET path=/api/${n % 50} status=${status} duration=${Math.floor(rand() * 1000)}ms${needle}`;
    stream.values.push([(BigInt(START + n * STEP_MS) * 1_000_000n).toString(), line]);
    streams.set(key, stream);
  }
  return JSON.stringify({ streams: [...streams.values()] });
}

async function load1(): Promise<string> {
  return (await readFile("/proc/loadavg", "utf8")).split(" ")[0]!;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const ns = (ms: number): string => (BigInt(Math.round(ms)) * 1_000_000n).toString();
const range = { start: ns(START), end: ns(END + 1) };

const { url, stop } = await startBenchServer(KEY, {
  NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? "--max-semi-space-size=16 --max-old-space-size=256",
  NEURALLOG_RETENTION_MAX_ENTRIES: String(Math.max(1_000_000, LOGS * 2)),
});
try {
  const loadStart = performance.now();
  for (let from = 0; from < LOGS; from += BATCH) {
    const res = await fetch(`${url}/loki/api/v1/push`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: batch(from, Math.min(BATCH, LOGS - from)),
    });
    if (res.status !== 204) throw new Error(`push answered ${res.status}: ${await res.text()}`);
  }
  console.log(
    `logs        ${LOGS} pushed in ${((performance.now() - loadStart) / 1000).toFixed(1)} s (Loki push, batches of ${BATCH}; load average ${await load1()})`,
  );

  const shapes: [string, string, Record<string, string>][] = [
    [
      "Explore: one service, newest 1000",
      "query_range",
      { query: '{service_name="svc-3"}', limit: "1000", ...range },
    ],
    [
      "Explore: log volume, sum by (level), 1 h, step 15s",
      "query_range",
      {
        query: 'sum by (level) (count_over_time({service_name="svc-3"} | drop __error__[15s]))',
        step: "15",
        ...range,
      },
    ],
    [
      "needle: |= over every service, limit 100",
      "query_range",
      { query: `{service_name=~".+"} |= "${NEEDLE}"`, limit: "100", ...range },
    ],
    [
      'phrase: |= " status=500 " over every service, newest 100',
      "query_range",
      { query: '{service_name=~".+"} |= " status=500 "', limit: "100", ...range },
    ],
    [
      "logfmt | status >= 500, one service, newest 100",
      "query_range",
      { query: '{service_name="svc-3"} | logfmt | status >= 500', limit: "100", ...range },
    ],
    [
      "dashboard: topk(5) rate by service, instant 5m",
      "query",
      { query: 'topk(5, sum by (service_name) (rate({service_name=~".+"}[5m])))', time: ns(END) },
    ],
    ["label values of service_name (stats)", "label/service_name/values", range],
    ["labels (newest 20,000 logs)", "labels", range],
  ];
  let worst = { ms: 0, name: "" };
  for (const [name, path, params] of shapes) {
    const times: number[] = [];
    let size = 0;
    for (let i = 0; i < RUNS; i++) {
      const start = performance.now();
      const res = await fetch(`${url}/loki/api/v1/${path}?${new URLSearchParams(params)}`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      const text = await res.text();
      times.push(performance.now() - start);
      if (!res.ok) throw new Error(`${name} answered ${res.status}: ${text}`);
      size = text.length;
    }
    times.sort((a, b) => a - b);
    const p99 = percentile(times, 99);
    if (p99 > worst.ms) worst = { ms: p99, name };
    console.log(
      `${name.padEnd(58)} p50 ${percentile(times, 50).toFixed(1).padStart(7)} ms  p99 ${p99.toFixed(1).padStart(7)} ms  ${size} B  (load average ${await load1()})`,
    );
  }
  console.log(`loki-read: ${LOGS} logs, worst p99 ${worst.ms.toFixed(1)} ms (${worst.name})`);
} finally {
  await stop();
}
