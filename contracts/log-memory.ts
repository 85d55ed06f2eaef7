/**
 * How much Redis memory logs take, and where the server trims them by memory: the figures the server's append
 * script (`server/storage/log-store.ts`) and `neurallog validate` share. The tenant's Redis runs `noeviction`, so
 * a write over `maxmemory` is refused; the server therefore trims the oldest logs before memory gets there.
 */

/**
 * Before a batch is written, when Redis' `used_memory` plus the batch would pass this share of `maxmemory`, the
 * oldest logs are trimmed until it is below `LOG_MEMORY_LOW_WATER` (or the per-batch trim budget is spent).
 */
export const LOG_MEMORY_HIGH_WATER = 0.85;
export const LOG_MEMORY_LOW_WATER = 0.75;

/**
 * Redis memory per stored log, all included: the stream entry in its stored form, its share of the batch index
 * and stats hashes, the allocator's rounding. Measured with `npm run bench:log-footprint` (`INFO memory`
 * used_memory delta over `BENCH_LOGS=1000000` realistic logs of `bench/realistic-logs.ts`: 7 fields, nested
 * objects, ~75-character messages, a trace id) on Redis 7.0.15 with jemalloc 5.3.0: 265 bytes. Logs with larger
 * messages or more fields take more; the figure is for typical logs.
 */
export const STORED_BYTES_PER_LOG = 265;

/** About how many typical logs a Redis with this `maxmemory` holds before memory trimming starts. */
export function logsThatFit(maxmemoryBytes: number): number {
  return Math.floor((maxmemoryBytes * LOG_MEMORY_HIGH_WATER) / STORED_BYTES_PER_LOG);
}
