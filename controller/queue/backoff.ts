/**
 * Exponential backoff, per key: the delay doubles with every consecutive failure up to a ceiling, and a success
 * (`forget`) starts the key over. Shared by the work queue (failed reconciles) and the informers (restarts).
 */
export interface BackoffOptions {
  /** Delay after the first failure. */
  readonly baseMs: number;
  /** Ceiling for the delay. */
  readonly maxMs: number;
}

/** The delay before attempt `failures + 1`, after `failures` consecutive failures (≥ 1). */
export function backoffDelay(failures: number, options: BackoffOptions): number {
  if (failures < 1) return 0;
  // Cap the exponent so 2 ** n stays finite for keys that failed for days.
  const exponent = Math.min(failures - 1, 52);
  return Math.min(options.baseMs * 2 ** exponent, options.maxMs);
}

export class ExponentialBackoff<K> {
  readonly #failures = new Map<K, number>();
  readonly #options: BackoffOptions;

  constructor(options: BackoffOptions) {
    if (!(options.baseMs > 0) || !(options.maxMs >= options.baseMs)) {
      throw new RangeError(`backoff needs 0 < baseMs <= maxMs, got ${options.baseMs} and ${options.maxMs}`);
    }
    this.#options = options;
  }

  /** Records one more failure of `key` and returns how long to wait before retrying it. */
  when(key: K): number {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    return backoffDelay(failures, this.#options);
  }

  failures(key: K): number {
    return this.#failures.get(key) ?? 0;
  }

  forget(key: K): void {
    this.#failures.delete(key);
  }
}
