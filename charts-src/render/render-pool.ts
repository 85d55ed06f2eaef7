/**
 * Rendering on every core: a pool of worker threads (render-worker.ts), each with its own cdk8s, each rendering
 * whole tenants (one cdk8s App per tenant, ADR 0001, so tenants are independent by construction) while the main
 * thread loads, validates and writes. Threads start before the tenants are even loaded, so their start-up
 * (loading cdk8s) overlaps validation. Below POOL_THRESHOLD tenants synth renders in process: a thread's start-up
 * costs more than it saves there.
 *
 * The output is the same bytes either way: the threads run the very function in-process synth runs
 * (`renderTenant`), and render-pool.test.ts compares the two trees.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { ResolvedPlatform } from "../../contracts/resolved-tenant.ts";
import type { SynthTenant } from "../model/resolve.ts";
import type { ManifestFile } from "./manifest-file.ts";
import { SynthError } from "./synth-error.ts";

/** From this many tenants on, synth renders in threads. */
export const POOL_THRESHOLD = 64;

export interface RenderRequest {
  readonly id: number;
  readonly tenant: SynthTenant;
  readonly platform: ResolvedPlatform;
}

export type RenderReply =
  | { readonly id: number; readonly files: ManifestFile[] }
  | { readonly id: number; readonly error: { readonly message: string; readonly synth: boolean } };

/**
 * How many render threads for about `tenants` tenants: none below the threshold, else one per core (at most 4:
 * past that the main thread's file writing is the limit). NEURALLOG_SYNTH_THREADS overrides (0: in process).
 */
export function renderThreads(tenants: number, env: NodeJS.ProcessEnv = process.env): number {
  const forced = env.NEURALLOG_SYNTH_THREADS;
  if (forced !== undefined && /^\d+$/.test(forced)) return Number(forced);
  return tenants < POOL_THRESHOLD ? 0 : Math.min(availableParallelism(), 4);
}

interface Pending {
  readonly worker: Worker;
  resolve(files: ManifestFile[]): void;
  reject(error: Error): void;
}

export class RenderPool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #failed: Error | undefined;

  /** Starts `threads` threads now. */
  constructor(threads: number) {
    for (let i = 0; i < threads; i++) this.#start();
  }

  #start(): void {
    const worker = new Worker(new URL("./render-worker.ts", import.meta.url));
    worker.on("message", (reply: RenderReply) => {
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (!pending) return;
      if ("files" in reply) pending.resolve(reply.files);
      else
        pending.reject(
          reply.error.synth ? new SynthError(reply.error.message) : new Error(reply.error.message),
        );
    });
    // A thread that dies (out of memory, a crash in cdk8s) fails what it held and every later request.
    worker.on("error", (error) => this.#fail(error));
    worker.on("exit", (code) => {
      if (code !== 0) this.#fail(new Error(`a render thread exited with code ${code}`));
    });
    this.#workers.push(worker);
  }

  #fail(error: Error): void {
    this.#failed ??= error;
    for (const pending of this.#pending.values()) pending.reject(this.#failed);
    this.#pending.clear();
  }

  /** The tenant's files, rendered by the thread with the fewest tenants queued. */
  render(tenant: SynthTenant, platform: ResolvedPlatform): Promise<ManifestFile[]> {
    if (this.#failed) return Promise.reject(this.#failed);
    const queued = new Map(this.#workers.map((w) => [w, 0]));
    for (const p of this.#pending.values()) queued.set(p.worker, queued.get(p.worker)! + 1);
    const worker = this.#workers.reduce((a, b) => (queued.get(a)! <= queued.get(b)! ? a : b));
    const id = this.#nextId++;
    return new Promise<ManifestFile[]>((resolve, reject) => {
      this.#pending.set(id, { worker, resolve, reject });
      worker.postMessage({ id, tenant, platform } satisfies RenderRequest);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
