/**
 * The server's Redis connection settings, in one place. Writes fail fast while Redis is unreachable (no offline
 * queue, no replay of in-flight commands) so the client gets a 503 with Retry-After instead of a hanging request;
 * the connection itself keeps reconnecting, so the server recovers by itself when Redis is back.
 */
import { Redis } from "ioredis";

export interface RedisClientOptions {
  /** Blocking readers (live tail) must not time out; others fail a command after this. Default 10 s. */
  readonly commandTimeoutMs?: number;
  readonly connectionName?: string;
  /** Redis' requirepass (ServerConfig.redisPassword), kept out of the URL so it is never logged with it. */
  readonly password?: string;
}

export function createRedisClient(url: string, options: RedisClientOptions = {}): Redis {
  const timeout = options.commandTimeoutMs ?? 10_000;
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    ...(timeout > 0 ? { commandTimeout: timeout } : {}),
    connectionName: options.connectionName ?? "neurallog-server",
    ...(options.password !== undefined ? { password: options.password } : {}),
    // Reconnect forever, at most every 2 s: Redis restarts are normal in Kubernetes.
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    connectTimeout: 5000,
  });
}
