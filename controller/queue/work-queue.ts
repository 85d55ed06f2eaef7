/**
 * A rate-limited work queue of keys, with client-go's guarantees:
 * - a key waiting in the queue is there once, however often it was added (dedup);
 * - a key is handed to one worker at a time: adding it while a worker holds it marks it dirty, and `done`
 *   puts it back in the queue, so the change that came in during processing is not lost;
 * - `addRateLimited` brings a failed key back after its exponential backoff; `forget` resets that backoff.
 */
import { ExponentialBackoff, type BackoffOptions } from "./backoff.ts";

export const DEFAULT_QUEUE_BACKOFF: BackoffOptions = { baseMs: 5, maxMs: 300_000 };

export class WorkQueue<K> {
  readonly #queue: K[] = [];
  /** Keys that need processing: queued, or added again while a worker held them. */
  readonly #dirty = new Set<K>();
  readonly #processing = new Set<K>();
  /** Delayed adds: one timer per key, the earliest wins. */
  readonly #waiting = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  readonly #getters: ((key: K | undefined) => void)[] = [];
  readonly #backoff: ExponentialBackoff<K>;
  #shuttingDown = false;

  constructor(backoff: BackoffOptions = DEFAULT_QUEUE_BACKOFF) {
    this.#backoff = new ExponentialBackoff<K>(backoff);
  }

  add(key: K): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /** Adds `key` after `delayMs`; a key already waiting keeps the earlier of the two times. */
  addAfter(key: K, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const waiting = this.#waiting.get(key);
    if (waiting && waiting.at <= at) return;
    if (waiting) clearTimeout(waiting.timer);
    const timer = setTimeout(() => {
      this.#waiting.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.#waiting.set(key, { at, timer });
  }

  /** Re-adds a key that failed, after its backoff; returns the delay chosen. */
  addRateLimited(key: K): number {
    const delay = this.#backoff.when(key);
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: its next failure starts from the base delay again. */
  forget(key: K): void {
    this.#backoff.forget(key);
  }

  failures(key: K): number {
    return this.#backoff.failures(key);
  }

  /** The next key to process, waiting for one; `undefined` once the queue shuts down. */
  get(): Promise<K | undefined> {
    const key = this.#queue.shift();
    if (key !== undefined) return Promise.resolve(this.#take(key));
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  /** The worker finished `key`; if it was added meanwhile, it goes back in the queue. */
  done(key: K): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key)) this.#push(key);
  }

  get length(): number {
    return this.#queue.length;
  }

  shutDown(): void {
    this.#shuttingDown = true;
    for (const { timer } of this.#waiting.values()) clearTimeout(timer);
    this.#waiting.clear();
    for (const getter of this.#getters.splice(0)) getter(undefined);
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  #push(key: K): void {
    const getter = this.#getters.shift();
    if (getter) getter(this.#take(key));
    else this.#queue.push(key);
  }

  #take(key: K): K {
    this.#dirty.delete(key);
    this.#processing.add(key);
    return key;
  }
}

/**
 * Runs `workers` loops that take keys and process them. A failure re-queues the key with backoff, a success
 * forgets its backoff. Resolves when the queue shut down and every worker finished its current key.
 */
export async function runWorkers<K>(
  queue: WorkQueue<K>,
  workers: number,
  process: (key: K) => Promise<void>,
  onError: (key: K, error: unknown, retryInMs: number) => void,
): Promise<void> {
  const worker = async () => {
    for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
      try {
        await process(key);
        queue.forget(key);
      } catch (error) {
        onError(key, error, queue.addRateLimited(key));
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
}
