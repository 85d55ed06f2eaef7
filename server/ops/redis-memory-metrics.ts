/**
 * The tenant Redis' memory as the server sees it (`INFO memory`), read at scrape time: Redis is the tenant's only
 * store and refuses writes at `maxmemory` (policy noeviction), so "memory near maxmemory" is the alert that comes
 * before ingest failing. The platform runs no Redis exporter; the server already holds a connection.
 */
import type { Redis } from "ioredis";
import { Gauge, type Registry } from "prom-client";
import { withinScrapeWait } from "./metrics.ts";

/** `used_memory` and `maxmemory` from an `INFO memory` answer (bytes; maxmemory 0 means unlimited). */
export function parseInfoMemory(info: string): { used: number; max: number } | undefined {
  const field = (name: string): number | undefined => {
    const match = new RegExp(`^${name}:(\\d+)\\r?$`, "m").exec(info);
    return match ? Number(match[1]) : undefined;
  };
  const used = field("used_memory");
  const max = field("maxmemory");
  return used === undefined || max === undefined ? undefined : { used, max };
}

export function redisMemoryMetrics(registry: Registry, redis: Redis, onError: (error: Error) => void): void {
  let last: Promise<{ used: number; max: number } | undefined> | undefined;
  // Both gauges are collected in one scrape: one INFO call serves them (the second reuses the first's answer).
  const read = (): Promise<{ used: number; max: number } | undefined> => {
    if (last) return last;
    const info = redis
      .info("memory")
      .then(parseInfoMemory)
      .catch((error: unknown) => {
        // Redis unreachable: no value this scrape; /metrics itself must still answer.
        onError(error as Error);
        return undefined;
      });
    last = withinScrapeWait(info).finally(() => setImmediate(() => (last = undefined)));
    return last;
  };
  for (const [name, help, pick] of [
    ["neurallog_redis_memory_used_bytes", "Memory the tenant's Redis uses (INFO memory used_memory)", "used"],
    ["neurallog_redis_memory_max_bytes", "The tenant's Redis maxmemory (0: unlimited)", "max"],
  ] as const) {
    new Gauge({
      name,
      help,
      registers: [registry],
      // Every replica (and worker process) reads the same Redis: summing them would count it several times.
      aggregator: "max",
      async collect() {
        const memory = await read();
        if (memory) this.set(memory[pick]);
      },
    });
  }
}
