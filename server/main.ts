/**
 * Boots the server process: configuration, Redis, extensions, app, listen; and shuts down gracefully on SIGTERM
 * or SIGINT (readiness turns 503, live tails end, in-flight requests finish, extensions stop, Redis closes).
 */
import { createAuthenticator } from "./auth/authenticator.ts";
import { buildApp } from "./app.ts";
import { loadConfig, type ServerConfig } from "./config/config.ts";
import type { Lifecycle } from "./context.ts";
import { createExtensionContext, defaultExtensions } from "./extensions.ts";
import { createLogger } from "./ops/logger.ts";
import { createRedisClient } from "./storage/redis-client.ts";
import { clusterMetricsSource, isClusterWorker } from "./ops/worker-cluster.ts";

export interface RunningServer {
  readonly url: string;
  /** Graceful shutdown, as on SIGTERM. */
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig = loadConfig()): Promise<RunningServer> {
  const logger = createLogger(config.logLevel);
  const redis = createRedisClient(config.redisUrl);
  redis.on("error", (error) => logger.warn({ err: error }, "redis connection error"));
  redis.on("ready", () => logger.info("redis connected"));
  // Extensions load their state from Redis when they start: wait for it (the error handler logs every failed try;
  // the startup probe decides how long is too long).
  if (redis.status !== "ready") await new Promise<void>((resolve) => redis.once("ready", () => resolve()));
  const auth = createAuthenticator(config.apiKeys);
  const lifecycle: Lifecycle = { shuttingDown: false, onShutdown: new Set() };
  const extensions = defaultExtensions(createExtensionContext(config, redis, logger, auth));
  const app = await buildApp({ config, redis, extensions, loggerInstance: logger, auth, lifecycle });
  if (isClusterWorker()) app.neurallog.metrics.text = clusterMetricsSource(app.neurallog.metrics.registry);
  const url = await app.listen({ port: config.port, host: config.host });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      lifecycle.shuttingDown = true;
      const timer = setTimeout(() => {
        logger.error(`in-flight requests did not finish within ${config.shutdownGraceMs} ms; exiting`);
        process.exit(1);
      }, config.shutdownGraceMs);
      timer.unref();
      await app.close();
      await redis.quit().catch(() => redis.disconnect());
      clearTimeout(timer);
      logger.info("shut down");
    })());
  return { url, close };
}

/** For `neurallog server` (and each worker of `NEURALLOG_WORKERS`): runs until SIGTERM/SIGINT. */
export async function runServerProcess(config: ServerConfig = loadConfig()): Promise<number> {
  const server = await startServer(config);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      void server.close().then(resolve);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  return 0;
}
