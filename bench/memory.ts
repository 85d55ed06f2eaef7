/**
 * `npm run bench:memory`: does the server stay inside its container's memory limit under worst-case load? For each
 * plan of tenants/_platform.yaml it runs the real image (dist/image, `npm run image`) under podman with
 * `--memory=<the plan's server limits.memory>` (no swap, as in a pod), the NODE_OPTIONS and NEURALLOG_* settings
 * the chart renders for that plan, the hardened flags of the rendered pod, against a real redis-server, and drives
 * at once, inside the plan's CPU limit too: BENCH_CONCURRENCY batches of 1,000 realistic logs in flight, gzip bodies near the limits (four of
 * 10,000 entries, the batch cap; and one that decompresses to ~58 MB), live tails, stats and search queries. It samples the
 * container's cgroup (memory usage and the kernel's own peak) and the server's RSS, and reports per plan: peak vs
 * limit, OOMKilled (podman inspect), status counts, logs/s. Last line: a one-line summary. Not a test: no
 * assertions.
 *
 * Environment: BENCH_SECONDS (20), BENCH_CONCURRENCY (8), BENCH_PLANS (all, comma-separated),
 * BENCH_HEAP_SHARE (charts-src/constructs/node-heap.ts HEAP_SHARE), BENCH_NODE_OPTIONS (replaces the rendered
 * flags, e.g. the image default, to compare).
 */
import { spawnSync } from "node:child_process";
import { readFileSync, existsSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { parse } from "yaml";
import { LAYOUTS } from "../image/build.ts";
import { nodeOptions, HEAP_SHARE } from "../charts-src/constructs/node-heap.ts";
import { BUILTIN_DEFAULTS } from "../charts-src/model/defaults.ts";
import { NEURALLOG_UID } from "../contracts/image-users.ts";
import { parseQuantity } from "../contracts/quantity.ts";
import { freePort, startRedisServer } from "../test/support/redis-server.ts";
import { root } from "./bench-server.ts";
import { realisticLines } from "./realistic-logs.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const SHARE = Number(process.env.BENCH_HEAP_SHARE ?? HEAP_SHARE);
const KEY = "bench-memory-key-0123456789abcdef";
const TAILS = 8;
/** Concurrent gzip bodies of 10,000 entries (each ~3.3 MB decompressed). */
const LARGE_BODIES = 4;
const MiB = 1024 * 1024;

type Plan = { name: string; memory: string; cpu: string; maxAge: string; maxEntries: number };

function plans(): Plan[] {
  const platform = parse(readFileSync(path.join(root, "tenants/_platform.yaml"), "utf8")) as {
    spec: {
      plans: Record<
        string,
        {
          server?: {
            resources?: { limits?: { memory?: string; cpu?: string } };
            logRetention?: Record<string, unknown>;
          };
        }
      >;
    };
  };
  const wanted = process.env.BENCH_PLANS?.split(",");
  const defaults = BUILTIN_DEFAULTS.server;
  return Object.entries(platform.spec.plans)
    .filter(([name]) => !wanted || wanted.includes(name))
    .map(([name, plan]) => ({
      name,
      memory: plan.server?.resources?.limits?.memory ?? defaults.resources.limits.memory,
      cpu: plan.server?.resources?.limits?.cpu ?? defaults.resources.limits.cpu,
      maxAge: String(plan.server?.logRetention?.maxAge ?? defaults.logRetention.maxAge),
      maxEntries: Number(plan.server?.logRetention?.maxEntries ?? defaults.logRetention.maxEntries),
    }));
}

function podman(args: string[]): string {
  const r = spawnSync("podman", args, { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`podman ${args[0]}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The cgroup (v1 or v2) memory files of a process, as this machine mounts them. */
function memoryCgroup(pid: number): { usage: string; peak: string; events?: string } {
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
  const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  if (v1) {
    const dir = path.join("/sys/fs/cgroup/memory", v1.slice(v1.lastIndexOf(":") + 1));
    return {
      usage: path.join(dir, "memory.usage_in_bytes"),
      peak: path.join(dir, "memory.max_usage_in_bytes"),
      events: path.join(dir, "memory.oom_control"),
    };
  }
  const dir = path.join("/sys/fs/cgroup", lines.find((l) => l.startsWith("0::"))!.slice(3));
  return { usage: path.join(dir, "memory.current"), peak: path.join(dir, "memory.peak") };
}

const readNumber = (file: string): number => Number(readFileSync(file, "utf8").trim());

function status(pid: number): { rss: number; hwm: number; anon: number } {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM"), anon: kb("RssAnon") };
}

type Counts = Record<string, number>;

async function send(url: string, body?: Buffer, headers: Record<string, string> = {}): Promise<number> {
  try {
    const res = await fetch(url, {
      method: body ? "POST" : "GET",
      headers: { authorization: `Bearer ${KEY}`, ...headers },
      ...(body ? { body } : {}),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** One plan: start Redis and the container, load it for SECONDS, sample, stop. */
async function runPlan(image: string, plan: Plan, conf: string) {
  const redis = await startRedisServer();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const name = `nl-bench-memory-${plan.name}-${process.pid}`;
  const flags = process.env.BENCH_NODE_OPTIONS ?? nodeOptions(plan.memory, SHARE);
  const limit = parseQuantity(plan.memory)!;
  const env = {
    PORT: String(port),
    HOST: "127.0.0.1",
    NODE_OPTIONS: flags,
    REDIS_URL: redis.url,
    NEURALLOG_TENANT: "bench",
    NEURALLOG_RETENTION_MAX_AGE: plan.maxAge,
    NEURALLOG_RETENTION_MAX_ENTRIES: String(plan.maxEntries),
    NEURALLOG_API_KEYS: JSON.stringify([{ name: "bench", key: KEY, scopes: ["ingest", "read"] }]),
    LOG_LEVEL: "warn",
  };
  // The rendered pod's settings (test/image/podman.ts runs the same ones from the golden files).
  const args = [
    "run",
    "--detach",
    "--name",
    name,
    "--network",
    "host",
    "--pull",
    "never",
    `--memory=${limit}`,
    `--memory-swap=${limit}`,
    `--cpus=${parseQuantity(plan.cpu)}`,
    "--user",
    `${NEURALLOG_UID}:${NEURALLOG_UID}`,
    "--read-only",
    "--read-only-tmpfs=false",
    "--tmpfs",
    "/tmp:rw,mode=1777,size=64m",
    "--cap-drop=ALL",
    "--security-opt",
    "no-new-privileges",
    ...Object.entries(env).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
    "--entrypoint",
    "neurallog",
    image,
    "server",
  ];
  process.env.CONTAINERS_CONF = conf;
  podman(args);
  try {
    const deadline = Date.now() + 60_000;
    while (
      !(await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline)
        throw new Error(`${plan.name}: not ready in 60 s\n${podman(["logs", name])}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const pid = Number(podman(["inspect", "--format", "{{.State.Pid}}", name]));
    const cgroup = memoryCgroup(pid);
    const idle = status(pid);
    const result = await drive(url, () => {
      try {
        return { usage: readNumber(cgroup.usage), ...status(pid) };
      } catch {
        return undefined; // the container is gone (OOM kill): inspect says so below
      }
    });
    const peakCgroup = existsSync(cgroup.peak) ? readNumber(cgroup.peak) : result.peakUsage;
    let hwm = 0;
    try {
      hwm = status(pid).hwm;
    } catch {
      hwm = result.peakRss;
    }
    const oomEvents =
      cgroup.events && existsSync(cgroup.events)
        ? Number(/oom_kill (\d+)/.exec(readFileSync(cgroup.events, "utf8"))?.[1] ?? 0)
        : 0;
    const state = podman([
      "inspect",
      "--format",
      "{{.State.Status}} {{.State.OOMKilled}} {{.RestartCount}}",
      name,
    ]);
    const [running, oomKilled] = state.split(" ");
    return { plan, flags, limit, idle, peakCgroup, hwm, oomEvents, running, oomKilled, ...result };
  } finally {
    spawnSync("podman", ["rm", "--force", "--time", "5", name], { encoding: "utf8" });
    await redis.stop();
  }
}

/** The load, all at once for SECONDS; `sample` reads the container's memory every 100 ms. */
async function drive(url: string, sample: () => { usage: number; rss: number; anon: number } | undefined) {
  const batches = Array.from({ length: 16 }, (_, i) =>
    Buffer.from(realisticLines(i, 1000).join("\n") + "\n"),
  );
  const entryCap = gzipSync(realisticLines(100, 10_000).join("\n") + "\n");
  // Near the 64 MB decompression cap: refused by the memory budget (413) or the entry cap, never decoded whole.
  const nearDecompressedCap = gzipSync(realisticLines(200, 220_000).join("\n") + "\n");
  const counts: Counts = {};
  const byKind: Counts = {};
  const slowestMs: Counts = {};
  const count = (status: number, kind: string) => {
    const k = status === 0 ? "error" : String(status);
    counts[k] = (counts[k] ?? 0) + 1;
    byKind[`${kind} ${k}`] = (byKind[`${kind} ${k}`] ?? 0) + 1;
  };
  let logs = 0;
  let peakUsage = 0;
  let peakRss = 0;
  let peakAnon = 0;
  const sampler = setInterval(() => {
    const s = sample();
    if (!s) return;
    peakUsage = Math.max(peakUsage, s.usage);
    peakRss = Math.max(peakRss, s.rss);
    peakAnon = Math.max(peakAnon, s.anon);
  }, 100);
  const deadline = Date.now() + SECONDS * 1000;
  /** One client sending `next()` back to back until the deadline; `entries` are counted as logs on a 200. */
  const worker = async (kind: string, next: (i: number) => Promise<number>, entries = 0) => {
    for (let i = 0; Date.now() < deadline; i++) {
      const t = performance.now();
      const status = await next(i);
      slowestMs[kind] = Math.max(slowestMs[kind] ?? 0, Math.round(performance.now() - t));
      count(status, kind);
      if (status === 200) logs += entries;
    }
  };
  const ndjson = { "content-type": "application/x-ndjson" };
  const gzipped = { "content-type": "application/x-ndjson", "content-encoding": "gzip" };
  const logsUrl = `${url}/api/v1/logs`;
  const tails = new AbortController();
  const tailsDone = Array.from({ length: TAILS }, () =>
    fetch(`${url}/api/v1/logs/stream?level=error`, {
      headers: { authorization: `Bearer ${KEY}` },
      signal: tails.signal,
    }).then(
      async (res) => {
        count(res.status, "tail");
        await res.body?.pipeTo(new WritableStream()).catch(() => undefined);
      },
      () => count(0, "tail"),
    ),
  );
  const started = performance.now();
  await Promise.all([
    ...Array.from({ length: CONCURRENCY }, (_, w) =>
      worker("batch-1k", (i) => send(logsUrl, batches[(w + i) % batches.length], ndjson), 1000),
    ),
    ...Array.from({ length: LARGE_BODIES }, () =>
      worker("gzip-10k", () => send(logsUrl, entryCap, gzipped), 10_000),
    ),
    worker("gzip-58MB", () => send(logsUrl, nearDecompressedCap, gzipped)),
    worker("stats", () =>
      send(`${url}/api/v1/stats?step=60&from=${new Date(Date.now() - 6 * 3_600_000).toISOString()}`),
    ),
    worker("search", () => send(`${url}/api/v1/logs?limit=1000&q=error`)),
  ]);
  const seconds = (performance.now() - started) / 1000;
  tails.abort();
  await Promise.all(tailsDone);
  clearInterval(sampler);
  return { counts, byKind, slowestMs, logs, seconds, peakUsage, peakRss, peakAnon };
}

function imageId(conf: string): string {
  if (!existsSync(path.join(LAYOUTS.neurallog, "index.json")))
    throw new Error("no dist/image: build it with `npm run image` first");
  process.env.CONTAINERS_CONF = conf;
  return podman([
    "pull",
    "--quiet",
    `oci:${LAYOUTS.neurallog}:${process.env.npm_package_version ?? "0.1.0"}`,
  ]);
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
const confDir = mkdtempSync(path.join(tmpdir(), "nl-bench-memory-"));
const conf = path.join(confDir, "containers.conf");
// runc: crun refuses this machine's hybrid cgroups; ulimits below the hard limit (docs: test/image/global-setup.ts).
writeFileSync(
  conf,
  '[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n',
);
try {
  const image = imageId(conf);
  console.log(
    `bench:memory: ${SECONDS} s per plan, ${CONCURRENCY} batches of 1,000 logs in flight + ${LARGE_BODIES} × gzip 10,000 entries ` +
      `+ gzip ~58 MB decompressed + ${TAILS} tails + stats and search queries`,
  );
  const summary: string[] = [];
  for (const plan of plans()) {
    const r = await runPlan(image, plan, conf);
    const statuses = Object.entries(r.byKind)
      .sort()
      .map(([s, n]) => `${s}:${n}`)
      .join(" ");
    const ok = Object.entries(r.counts)
      .filter(([s]) => s.startsWith("2"))
      .reduce((a, [, n]) => a + n, 0);
    console.log(
      `${plan.name}: limit ${mib(r.limit)} (${plan.memory}), NODE_OPTIONS="${r.flags}"; idle RSS ${mib(r.idle.rss)} (anonymous ${mib(r.idle.anon)}); ` +
        `peak cgroup ${mib(r.peakCgroup)} (${((100 * r.peakCgroup) / r.limit).toFixed(0)}% of limit), ` +
        `peak RSS ${mib(r.hwm)} (anonymous ${mib(r.peakAnon)}); state ${r.running}, OOMKilled ${r.oomKilled}, oom_kill events ${r.oomEvents}; ` +
        `2xx ${ok}, 413 ${r.counts["413"] ?? 0}, 503 ${r.counts["503"] ?? 0}, all [${statuses}]; ` +
        `${Math.round(r.logs / r.seconds)} logs/s; slowest ms ${JSON.stringify(r.slowestMs)}`,
    );
    summary.push(
      `${plan.name} ${mib(r.peakCgroup)}/${mib(r.limit)}${r.oomKilled === "true" || r.running !== "running" ? " OOM" : ""} ${Math.round(r.logs / r.seconds)} logs/s`,
    );
  }
  console.log(`summary: peak container memory / limit: ${summary.join(", ")}`);
} finally {
  rmSync(confDir, { recursive: true, force: true });
}
