/**
 * The server side of the HTTP benches (`bench:ingest`, `bench:rules`): a real `neurallog server` process against
 * its own redis-server on free loopback ports, and the /proc readings the benches report (CPU, RSS).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startRedisServer, type RedisServerHandle } from "../test/support/redis-server.ts";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface BenchServer {
  readonly url: string;
  readonly server: ChildProcess;
  readonly redis: RedisServerHandle;
  /** SIGTERM to the server, waits for it, then stops Redis. */
  stop(): Promise<void>;
}

/**
 * Starts Redis and a server with an ingest+read key; `env` adds to (or overrides) the server's environment,
 * `redisArgs` go to redis-server (e.g. the tenants' `--appendonly yes --appendfsync everysec`).
 */
export async function startBenchServer(
  key: string,
  env: Record<string, string> = {},
  redisArgs: readonly string[] = [],
): Promise<BenchServer> {
  const redis = await startRedisServer({ args: redisArgs });
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
      NEURALLOG_API_KEYS: JSON.stringify([{ name: "bench", key, scopes: ["ingest", "read"] }]),
      LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const stop = async (): Promise<void> => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill("SIGTERM");
      await new Promise((r) => server.once("exit", r));
    }
    await redis.stop();
  };
  try {
    await waitReady(url, server);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, server, redis, stop };
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

/** A process and its direct children (NEURALLOG_WORKERS > 1 forks workers). */
async function processTree(pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  return [pid, ...children.split(/\s+/).filter(Boolean).map(Number)];
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** Resident memory of a process and its workers, in KiB. */
export async function treeRssKb(pid: number): Promise<number> {
  const sizes = await Promise.all((await processTree(pid)).map(rssKb));
  return sizes.reduce((a, b) => a + b, 0);
}

/** CPU seconds (user + system) a process and its workers have used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  let total = 0;
  for (const p of await processTree(pid)) {
    const stat = await readFile(`/proc/${p}/stat`, "utf8").catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    total += (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return total;
}
