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
import { stopOnSignals, stopped } from "./ops/stop-signal.ts";
import { clusterMetricsSource, isClusterWorker, leaveCluster } from "./ops/worker-cluster.ts";

export interface RunningServer {
  readonly url: string;
  /** Graceful shutdown, as on SIGTERM. */
  close(): Promise<void>;
}

/**
 * Starts the server. `signal` aborts the wait for Redis (a stop requested while Redis is unreachable must not wait
 * for it forever): the start then rejects with the signal's reason; once Redis answered, the start completes and
 * the caller closes the server.
 */
export async function startServer(
  config: ServerConfig = loadConfig(),
  signal?: AbortSignal,
): Promise<RunningServer> {
  const logger = createLogger(config.logLevel);
  const redis = createRedisClient(config.redisUrl, { password: config.redisPassword });
  redis.on("error", (error) => logger.warn({ err: error }, "redis connection error"));
  redis.on("ready", () => logger.info("redis connected"));
  // Extensions load their state from Redis when they start: wait for it (the error handler logs every failed try;
  // the startup probe decides how long is too long).
  if (redis.status !== "ready") {
    await new Promise<void>((resolve, reject) => {
      const abort = (): void => {
        redis.off("ready", ready);
        redis.disconnect();
        reject(signal?.reason as Error);
      };
      const ready = (): void => {
        signal?.removeEventListener("abort", abort);
        resolve();
      };
      if (signal?.aborted) return abort();
      redis.once("ready", ready);
      signal?.addEventListener("abort", abort, { once: true });
    });
  }
  const auth = createAuthenticator(config);
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

/**
 * For `neurallog server` (and each worker of `NEURALLOG_WORKERS`): runs until `stop` aborts (SIGTERM/SIGINT; see
 * ops/stop-signal.ts for why the caller installs it before loading this module).
 */
export async function runServerProcess(
  config: ServerConfig = loadConfig(),
  stop: AbortSignal = stopOnSignals(),
): Promise<number> {
  let server: RunningServer;
  try {
    server = await startServer(config, stop);
  } catch (error) {
    // Stopped before Redis ever answered: nothing was accepted, so there is nothing to drain.
    if (!stop.aborted) throw error;
    leaveCluster();
    return 0;
  }
  await stopped(stop);
  await server.close();
  leaveCluster();
  return 0;
}
