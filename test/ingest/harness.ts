/**
 * Builds the server app against a real redis-server for tests: a fresh Redis per test file, the app with test
 * keys, and `inject` helpers. Nothing is mocked.
 */
import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { buildApp } from "../../server/app.ts";
import { loadConfig, type ServerConfig } from "../../server/config/config.ts";
import type { ServerExtension } from "../../server/extension.ts";
import { createRedisClient } from "../../server/storage/redis-client.ts";
import { startRedisServer, type RedisServerHandle } from "../support/redis-server.ts";

export const INGEST_KEY = "test-ingest-key-0123456789";
export const READ_KEY = "test-read-key-0123456789";
export const ADMIN_KEY = "test-admin-key-0123456789";

export const API_KEYS = JSON.stringify([
  { name: "shipper", key: INGEST_KEY, scopes: ["ingest"] },
  { name: "reader", key: READ_KEY, scopes: ["read"] },
  { name: "admin", key: ADMIN_KEY, scopes: ["admin"] },
]);

export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

export interface Harness {
  readonly app: FastifyInstance;
  readonly redis: Redis;
  readonly redisServer: RedisServerHandle;
  readonly config: ServerConfig;
  close(): Promise<void>;
}

export async function startHarness(
  options: {
    env?: Record<string, string>;
    extensions?: ServerExtension[];
    redisServer?: RedisServerHandle;
  } = {},
): Promise<Harness> {
  const redisServer = options.redisServer ?? (await startRedisServer());
  const config = loadConfig({
    REDIS_URL: redisServer.url,
    NEURALLOG_TENANT: "acme",
    NEURALLOG_API_KEYS: API_KEYS,
    ...options.env,
  });
  const redis = createRedisClient(config.redisUrl);
  redis.on("error", () => undefined);
  await new Promise<void>((resolve) =>
    redis.status === "ready" ? resolve() : redis.once("ready", () => resolve()),
  );
  const app = await buildApp({ config, redis, logger: false, extensions: options.extensions ?? [] });
  await app.ready();
  return {
    app,
    redis,
    redisServer,
    config,
    async close() {
      await app.close();
      redis.disconnect();
      if (!options.redisServer) await redisServer.stop();
    },
  };
}

/** Posts NDJSON lines to the native endpoint. */
export function ndjson(records: readonly unknown[]): string {
  return records.map((r) => JSON.stringify(r)).join("\n") + "\n";
}
