/**
 * `npm run bench:backup`: `neurallog backup` against `redis-cli --rdb` on the same ~1 GB dataset in the same run.
 *
 * A fresh redis-server is filled with ~1 GiB of incompressible values (pipelined SETs of 4 KiB random slices),
 * then each tool snapshots it into a temp dir, alternating, 3 rounds per tool and per sync mode (diskless, the
 * Redis 7 default; and disk-backed). Each run is a separate process under `/usr/bin/time -v`, so wall time and
 * peak RSS include process start-up for both. Figures are medians. Goals (issue 6): RSS < 150 MB and
 * ≥ 90% of redis-cli's throughput.
 *
 * Environment: BENCH_BACKUP_MB (dataset size, default 1024), BENCH_BACKUP_ROUNDS (default 3).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { startRedisServer } from "../test/support/redis-server.ts";

const run = promisify(execFile);
const DATASET_MB = Number(process.env.BENCH_BACKUP_MB ?? 1024);
const ROUNDS = Math.max(1, Math.min(5, Number(process.env.BENCH_BACKUP_ROUNDS ?? 3)));
const VALUE_BYTES = 4096;
const NODE = process.execPath;
const CLI = new URL("../bin/neurallog.ts", import.meta.url).pathname;

interface Measurement {
  readonly seconds: number;
  /** User + system CPU seconds of the process. */
  readonly cpuSeconds: number;
  readonly rssMb: number;
  readonly bytes: number;
}

async function fill(url: string): Promise<void> {
  const client = new Redis(url);
  const pool = randomBytes(16 << 20);
  const keys = Math.ceil((DATASET_MB << 20) / VALUE_BYTES);
  const batch = 2000;
  const started = Date.now();
  try {
    for (let first = 0; first < keys; first += batch) {
      const pipeline = client.pipeline();
      for (let i = first; i < Math.min(keys, first + batch); i++) {
        // A different 4 KiB window of random bytes per key: nothing for LZF to compress.
        const offset = (i * 4099) % (pool.length - VALUE_BYTES);
        pipeline.set(`{bench}:value:${i}`, pool.subarray(offset, offset + VALUE_BYTES));
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

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mbPerSecond = (m: Measurement): number => m.bytes / 2 ** 20 / m.seconds;

async function compare(url: string, port: number, work: string) {
  const cli: Measurement[] = [];
  const ours: Measurement[] = [];
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
    // Alternate who goes first, so a machine that gets busier or calmer during the run favours neither.
    for (const step of round % 2 === 0 ? [runCli, runOurs] : [runOurs, runCli]) await step();
  }
  const summarize = (runs: Measurement[]) => ({
    seconds: median(runs.map((m) => m.seconds)),
    cpuSeconds: median(runs.map((m) => m.cpuSeconds)),
    mbps: median(runs.map(mbPerSecond)),
    rssMb: Math.max(...runs.map((m) => m.rssMb)),
    bytes: runs[0]!.bytes,
  });
  return { cli: summarize(cli), ours: summarize(ours) };
}

const work = await mkdtemp(join(tmpdir(), "nl-bench-backup-"));
const redis = await startRedisServer({ args: ["--repl-diskless-sync-delay", "0", "--maxmemory", "0"] });
try {
  console.log(`filling ${DATASET_MB} MiB of 4 KiB random values...`);
  await fill(redis.url);
  const control = new Redis(redis.url);
  const memory = String(await control.info("memory")).match(/used_memory_human:(\S+)/)?.[1];
  console.log(
    `dataset: ${await control.dbsize()} keys, used_memory ${memory}; ${ROUNDS} rounds per tool, medians`,
  );
  let final = "";
  for (const diskless of ["no", "yes"]) {
    await control.config("SET", "repl-diskless-sync", diskless);
    const { cli, ours } = await compare(redis.url, redis.port, work);
    const mode = diskless === "yes" ? "diskless sync ($EOF framing)" : "disk-backed sync ($<len> framing)";
    const row = (name: string, r: typeof cli) =>
      `  ${name.padEnd(17)} ${r.seconds.toFixed(2)} s  ${r.mbps.toFixed(0).padStart(5)} MB/s  rss ${r.rssMb.toFixed(0)} MB  cpu ${r.cpuSeconds.toFixed(2)} s`;
    console.log(`${mode}, ${(cli.bytes / 2 ** 20).toFixed(0)} MiB RDB:`);
    console.log(row("redis-cli --rdb", cli));
    console.log(row("neurallog backup", ours));
    final =
      `backup: ${ours.mbps.toFixed(0)} MB/s vs redis-cli ${cli.mbps.toFixed(0)} MB/s ` +
      `(ratio ${(ours.mbps / cli.mbps).toFixed(2)}), rss ${ours.rssMb.toFixed(0)} MB`;
    console.log(`  ${final}`);
  }
  control.disconnect();
  console.log(final);
} finally {
  await redis.stop();
  await rm(work, { recursive: true, force: true });
}
