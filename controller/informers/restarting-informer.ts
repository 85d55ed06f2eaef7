/**
 * A client-node ListWatch that never gives up. The client restarts a watch by itself only when it ends cleanly
 * or with 410 Gone; any other error (connection refused while the API server restarts, 5xx, a failed list)
 * reaches the `error` callback and the informer stays stopped. Here every error schedules `start()` again after
 * an exponential backoff; the cache keeps its objects and its resourceVersion meanwhile, so a restart resumes the
 * watch where it was (or relists after 410).
 */
import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesObject,
  type ListPromise,
} from "@kubernetes/client-node";
import { ExponentialBackoff, type BackoffOptions } from "../queue/backoff.ts";

export const DEFAULT_RESTART_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000 };

export interface RestartingInformerOptions<T extends KubernetesObject> {
  /** Name for logs and metrics, e.g. "resourcequotas". */
  readonly resource: string;
  /** Watch path, e.g. `/api/v1/resourcequotas`. */
  readonly path: string;
  readonly list: ListPromise<T>;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly backoff?: BackoffOptions;
  /** Called for every add, update and delete (the object as the cache holds it: read it, never mutate it). */
  readonly onChange: (object: T) => void;
  readonly onError?: (resource: string, error: unknown, restartInMs: number) => void;
}

export class RestartingInformer<T extends KubernetesObject> {
  readonly resource: string;
  readonly #listWatch: ListWatch<T>;
  readonly #backoff: ExponentialBackoff<"restart">;
  readonly #options: RestartingInformerOptions<T>;
  #listed = false;
  #synced = false;
  #stopped = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #restarts = 0;
  #errors = 0;

  constructor(kubeConfig: KubeConfig, options: RestartingInformerOptions<T>) {
    this.resource = options.resource;
    this.#options = options;
    this.#backoff = new ExponentialBackoff(options.backoff ?? DEFAULT_RESTART_BACKOFF);
    const list: ListPromise<T> = async () => {
      const result = await options.list();
      this.#listed = true;
      return result;
    };
    this.#listWatch = new ListWatch<T>(
      options.path,
      new Watch(kubeConfig),
      list,
      false,
      options.labelSelector,
      options.fieldSelector,
    );
    for (const verb of ["add", "update", "delete"] as const) this.#listWatch.on(verb, options.onChange);
    this.#listWatch.on("error", (error) => this.#scheduleRestart(error));
  }

  /** Lists, fills the cache and starts watching; resolves once the first list landed (or failed and was retried). */
  async start(): Promise<void> {
    this.#stopped = false;
    const errorsBefore = this.#errors;
    await this.#listWatch.start();
    // ListWatch.start resolves after list → cache filled → watch opened; a failure went to the error handler.
    if (this.#listed) this.#synced = true;
    // Connected without error: the next failure starts the restart delays over.
    if (this.#errors === errorsBefore) this.#backoff.forget("restart");
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    await this.#listWatch.stop();
  }

  /** True once a list landed in the cache; stays true across restarts (the cache is kept). */
  get synced(): boolean {
    return this.#synced;
  }

  get restarts(): number {
    return this.#restarts;
  }

  list(namespace?: string): readonly T[] {
    return this.#listWatch.list(namespace);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#listWatch.get(name, namespace);
  }

  #scheduleRestart(error: unknown): void {
    this.#errors++;
    if (this.#stopped || this.#restartTimer) return;
    const delay = this.#backoff.when("restart");
    this.#options.onError?.(this.resource, error, delay);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopped) return;
      this.#restarts++;
      this.start().catch((startError: unknown) => this.#scheduleRestart(startError));
    }, delay);
    this.#restartTimer.unref();
  }
}
