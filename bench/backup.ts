/**
 * `npm run bench:backup`: `neurallog backup` against `redis-cli --rdb` on two data shapes in the same run.
 *
 *   - small values: 300,000 keys of 1 KiB (~302 MiB RDB): per byte, Redis' forked child works hardest here, so the
 *     CPU the backup spends beside it on a 2-core machine shows most (issue 12 item 13: 0.75x before);
 *   - large values: ~1 GiB of 4 KiB values.
 *
 * Values are incompressible (different windows of random bytes). For each shape a fresh redis-server is filled,
 * then each tool snapshots it into a temp dir, alternating which goes first, BENCH_BACKUP_ROUNDS rounds per tool
 * and per sync mode (diskless, the Redis 7 default; and disk-backed). Each run is a separate process under
 * `/usr/bin/time -v`, so wall time and peak RSS include process start-up for both. Figures are medians; the
 * machine's 1-minute load is printed per round, since other work on a shared machine moves the figures more
 * than anything measured here. Goals: RSS < 150 MB and at least redis-cli's throughput on both shapes.
 *
 * Environment: BENCH_BACKUP_ROUNDS (default 5), BENCH_BACKUP_MB (large-value dataset, default 1024),
 * BENCH_BACKUP_SMALL_KEYS (default 300000), BENCH_BACKUP_SHAPES (`small,large`), BENCH_BACKUP_SYNC
 * (`diskless,disk`).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { startRedisServer } from "../test/support/redis-server.ts";

const run = promisify(execFile);
const ROUNDS = Math.max(1, Math.min(9, Number(process.env.BENCH_BACKUP_ROUNDS ?? 5)));
const LARGE_MB = Number(process.env.BENCH_BACKUP_MB ?? 1024);
const SMALL_KEYS = Number(process.env.BENCH_BACKUP_SMALL_KEYS ?? 300_000);
const NODE = process.execPath;
const CLI = new URL("../bin/neurallog.ts", import.meta.url).pathname;

interface Shape {
  readonly name: string;
  readonly keys: number;
  readonly valueBytes: number;
}

const SHAPES: Record<string, Shape> = {
  small: { name: "1 KiB values", keys: SMALL_KEYS, valueBytes: 1024 },
  large: { name: "4 KiB values", keys: Math.ceil((LARGE_MB << 20) / 4096), valueBytes: 4096 },
};
const pick = <T>(variable: string, all: Record<string, T>, fallback: string): T[] =>
  (process.env[variable] ?? fallback).split(",").map((name) => {
    const found = all[name.trim()];
    if (found === undefined)
      throw new Error(`${variable}: unknown "${name}" (${Object.keys(all).join(", ")})`);
    return found;
  });
const shapes = pick("BENCH_BACKUP_SHAPES", SHAPES, "small,large");
const syncModes = pick("BENCH_BACKUP_SYNC", { diskless: "yes", disk: "no" }, "diskless,disk");

interface Measurement {
  readonly seconds: number;
  /** User + system CPU seconds of the process. */
  readonly cpuSeconds: number;
  readonly rssMb: number;
  readonly bytes: number;
}

async function fill(url: string, shape: Shape): Promise<void> {
  const client = new Redis(url);
  const pool = randomBytes(16 << 20);
  const batch = 2000;
  const started = Date.now();
  try {
    for (let first = 0; first < shape.keys; first += batch) {
      const pipeline = client.pipeline();
      for (let i = first; i < Math.min(shape.keys, first + batch); i++) {
        // A different window of random bytes per key: nothing for LZF to compress.
        const offset = (i * 4099) % (pool.length - shape.valueBytes);
        pipeline.set(`{bench}:value:${i}`, pool.subarray(offset, offset + shape.valueBytes));
      }
      await pipeline.exec();
      if (Date.now() - started > 300_000) throw new Error("filling the dataset took over 5 minutes");
    }
  } finally {
    client.disconnect();
  }
}

/** Runs a command under /usr/bin/time -v; returns wall seconds, peak RSS and the size of the file it wrote. */
async function measure(command: string, args: string[], outDir: string): Promise<Measurement> {
  const { stderr } = await run("/usr/bin/time", ["-v", command, ...args], {
    maxBuffer: 16 << 20,
    timeout: 600_000,
  });
  const field = (name: string): string => {
    const match = new RegExp(`${name}: (.+)`).exec(stderr);
    if (!match) throw new Error(`no "${name}" in /usr/bin/time output:\n${stderr}`);
    return match[1]!.trim();
  };
  const clock = field("Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)").split(":").map(Number);
  const seconds = clock.reduce((total, part) => total * 60 + part, 0);
  const rdb = (await readdir(outDir)).find((name) => name.endsWith(".rdb"));
  if (!rdb) throw new Error(`${command} wrote no .rdb file`);
  const bytes = (await stat(join(outDir, rdb))).size;
  const cpuSeconds = Number(field("User time \\(seconds\\)")) + Number(field("System time \\(seconds\\)"));
  return {
    seconds,
    cpuSeconds,
    rssMb: Number(field("Maximum resident set size \\(kbytes\\)")) / 1024,
    bytes,
  };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const mbPerSecond = (m: Measurement): number => m.bytes / 2 ** 20 / m.seconds;
const load = (): number => loadavg()[0]!;

async function compare(url: string, port: number, work: string) {
  const cli: Measurement[] = [];
  const ours: Measurement[] = [];
  const loads: number[] = [];
  const runCli = async () => {
    const cliDir = await mkdtemp(join(work, "cli-"));
    cli.push(await measure("redis-cli", ["-p", String(port), "--rdb", join(cliDir, "dump.rdb")], cliDir));
    await rm(cliDir, { recursive: true });
  };
  const runOurs = async () => {
    const ourDir = await mkdtemp(join(work, "ours-"));
    const args = [CLI, "backup", "--redis-url", url, "--dest", ourDir, "--tenant", "bench"];
    ours.push(await measure(NODE, args, ourDir));
    await rm(ourDir, { recursive: true });
  };
  for (let round = 0; round < ROUNDS; round++) {
    loads.push(load());
    // Alternate who goes first, so a machine that gets busier or calmer during the run favours neither.
    for (const step of round % 2 === 0 ? [runCli, runOurs] : [runOurs, runCli]) await step();
    const ratio = mbPerSecond(ours.at(-1)!) / mbPerSecond(cli.at(-1)!);
    console.log(
      `    round ${round + 1}: redis-cli ${cli.at(-1)!.seconds.toFixed(2)} s, neurallog ${ours.at(-1)!.seconds.toFixed(2)} s ` +
        `(ratio ${ratio.toFixed(2)}), load ${loads.at(-1)!.toFixed(1)}`,
    );
  }
  loads.push(load());
  // Each round's pair ran back to back, so its ratio saw (nearly) the same machine: steadier than the medians'.
  const paired = median(ours.map((m, i) => mbPerSecond(m) / mbPerSecond(cli[i]!)));
  const summarize = (runs: Measurement[]) => ({
    seconds: median(runs.map((m) => m.seconds)),
    cpuSeconds: median(runs.map((m) => m.cpuSeconds)),
    mbps: median(runs.map(mbPerSecond)),
    rssMb: Math.max(...runs.map((m) => m.rssMb)),
    bytes: runs[0]!.bytes,
  });
  return { cli: summarize(cli), ours: summarize(ours), loads, paired };
}

const work = await mkdtemp(join(tmpdir(), "nl-bench-backup-"));
const summaries: string[] = [];
let maxRss = 0;
const allLoads: number[] = [];
try {
  for (const shape of shapes) {
    const redis = await startRedisServer({ args: ["--repl-diskless-sync-delay", "0", "--maxmemory", "0"] });
    try {
      console.log(`${shape.name}: filling ${shape.keys} keys...`);
      await fill(redis.url, shape);
      const control = new Redis(redis.url);
      const memory = String(await control.info("memory")).match(/used_memory_human:(\S+)/)?.[1];
      console.log(
        `${shape.name}: ${await control.dbsize()} keys, used_memory ${memory}; ${ROUNDS} rounds per tool, medians`,
      );
      const ratios: string[] = [];
      for (const diskless of syncModes) {
        await control.config("SET", "repl-diskless-sync", diskless);
        const mode = diskless === "yes" ? "diskless" : "disk-backed";
        console.log(`  ${mode} sync (${diskless === "yes" ? "$EOF" : "$<len>"} framing):`);
        const { cli, ours, loads, paired } = await compare(redis.url, redis.port, work);
        const row = (name: string, r: typeof cli) =>
          `    ${name.padEnd(17)} ${r.seconds.toFixed(2)} s  ${r.mbps.toFixed(0).padStart(5)} MB/s  rss ${r.rssMb.toFixed(0)} MB  cpu ${r.cpuSeconds.toFixed(2)} s`;
        console.log(`    ${(cli.bytes / 2 ** 20).toFixed(0)} MiB RDB, load ${range(loads)}`);
        console.log(row("redis-cli --rdb", cli));
        console.log(row("neurallog backup", ours));
        const ratio = ours.mbps / cli.mbps;
        console.log(
          `    ratio ${ratio.toFixed(2)} (${ours.mbps.toFixed(0)} vs ${cli.mbps.toFixed(0)} MB/s, medians); ` +
            `median of the rounds' ratios ${paired.toFixed(2)}`,
        );
        ratios.push(`${ratio.toFixed(2)}x ${mode} (rounds ${paired.toFixed(2)}x)`);
        maxRss = Math.max(maxRss, ours.rssMb);
        allLoads.push(...loads);
      }
      summaries.push(`${shape.name} ${ratios.join(", ")}`);
      control.disconnect();
    } finally {
      await redis.stop();
    }
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
console.log(
  `backup vs redis-cli --rdb (median of ${ROUNDS}): ${summaries.join("; ")}; rss ${maxRss.toFixed(0)} MB; ` +
    `load ${range(allLoads)}`,
);

function range(values: number[]): string {
  return `${Math.min(...values).toFixed(1)}-${Math.max(...values).toFixed(1)}`;
}
