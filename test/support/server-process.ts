/**
 * Runs `neurallog server` as real child processes for tests: each in its own process group (so cleanup reaches
 * the workers of NEURALLOG_WORKERS too), every wait bounded, and `killAll()` for an afterEach/afterAll that ends
 * whatever a failed test left running.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { freePort } from "./redis-server.ts";

const ROOT = join(import.meta.dirname, "../..");
/** A server that does not answer or does not exit is a failure, never a hang. */
export const EXIT_TIMEOUT_MS = 20_000;
export const REQUEST_TIMEOUT_MS = 10_000;
const READY_TIMEOUT_MS = 20_000;

export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** The exit code, or the signal that killed it. */
  exited(): Promise<number | NodeJS.Signals | null>;
  stdout: () => string;
  /** Also passed through to the test's stderr. */
  stderr: () => string;
}

export interface ServerProcessOptions {
  readonly redisUrl: string;
  readonly tenant: string;
  /** NEURALLOG_API_KEYS, a JSON array. */
  readonly apiKeys: string;
  /** More environment, overriding the defaults (e.g. NEURALLOG_WORKERS, NEURALLOG_RULES_FILE). */
  readonly env?: Record<string, string>;
}

/** Every server spawned through one instance, so a test file can kill them all. */
export class SpawnedServers {
  private readonly spawned = new Set<ChildProcess>();

  /** Starts the process without waiting for it to get ready. */
  async spawn(options: ServerProcessOptions): Promise<ServerProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [join(ROOT, "bin/neurallog.ts"), "server"], {
      cwd: ROOT,
      detached: true,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: "127.0.0.1",
        REDIS_URL: options.redisUrl,
        NEURALLOG_TENANT: options.tenant,
        NEURALLOG_API_KEYS: options.apiKeys,
        LOG_LEVEL: "warn",
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.spawned.add(child);
    let out = "";
    let err = "";
    child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => {
      err += chunk.toString();
      process.stderr.write(chunk);
    });
    const exit = new Promise<number | NodeJS.Signals | null>((resolve) =>
      child.once("exit", (code, signal) => resolve(code ?? signal)),
    );
    return {
      child,
      url: `http://127.0.0.1:${port}`,
      exited: () => within(exit, EXIT_TIMEOUT_MS, "server exits"),
      stdout: () => out,
      stderr: () => err,
    };
  }

  /** Starts the process and waits until /readyz answers 2xx. */
  async start(options: ServerProcessOptions): Promise<ServerProcess> {
    const server = await this.spawn(options);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (server.child.exitCode !== null) throw new Error(`server exited with ${server.child.exitCode}`);
      if (Date.now() > deadline) throw new Error("server did not get ready");
      if (
        await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return server;
  }

  /** SIGKILLs the process group of every server spawned so far and waits for each to exit. */
  async killAll(): Promise<void> {
    for (const child of this.spawned) {
      if (child.exitCode === null && child.signalCode === null) {
        const exit = new Promise((resolve) => child.once("exit", resolve));
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // The group is already gone.
        }
        await within(exit, EXIT_TIMEOUT_MS, "killed server exits");
      }
      // Workers of a primary that exited by itself may still be draining: end the group either way.
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Nothing left in the group.
      }
    }
    this.spawned.clear();
  }
}
