/**
 * The NeuralLog server as an app (fastify/demo style): `buildApp` wires configuration, Redis, auth, metrics and
 * routes into a Fastify instance without listening, so tests `inject()` requests; `server/main.ts` boots it.
 */
import { STATUS_CODES } from "node:http";
import swagger from "@fastify/swagger";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from "fastify";
import type { Redis } from "ioredis";
import { createAuthenticator, type Authenticator } from "./auth/authenticator.ts";
import type { ServerConfig } from "./config/config.ts";
import type { Lifecycle, ServerContext } from "./context.ts";
import type { LimitReached } from "./errors.ts";
import type { ServerExtension } from "./extension.ts";
import { ingestRoutes } from "./ingest/ingest-routes.ts";
import { createMetrics, type IngestEndpoint } from "./ops/metrics.ts";
import { redisMemoryMetrics } from "./ops/redis-memory-metrics.ts";
import { opsRoutes } from "./ops/ops-routes.ts";
import { queryRoutes } from "./query/query-routes.ts";
import { LogStore } from "./storage/log-store.ts";
import { lokiReadRoutes } from "./loki-read/loki-read-routes.ts";
import { tailRoutes } from "./tail/tail-route.ts";
import { TailSlots } from "./tail/tail-slots.ts";

/**
 * Every error as `{statusCode, code, error, message}` (plus `limit` when it names the limit it met, `withLimit`):
 * Fastify's body errors as 4xx with our wording, ingest rejects counted per reason, 5xx messages that never leak
 * internals, a Retry-After on every 503.
 */
function errorHandler(ctx: ServerContext) {
  const { config } = ctx;
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    let status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    let message = error.message;
    const endpoint = request.routeOptions.config?.ingestEndpoint;
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      const limit = endpoint ? config.limits.maxBodyBytes : request.routeOptions.bodyLimit;
      message = `the body is larger than the limit of ${limit} bytes`;
    } else if (
      error.code === "FST_ERR_CTP_EMPTY_JSON_BODY" ||
      error.code === "FST_ERR_CTP_INVALID_JSON_BODY"
    ) {
      status = 400;
    }
    if (endpoint) ctx.metrics.rejects.inc({ endpoint, reason: REJECT_REASONS[status] ?? `status_${status}` });
    if (status === 503) reply.header("retry-after", reply.getHeader("retry-after") ?? "1");
    if (status >= 500) {
      request.log.error({ err: error }, "request failed");
      // 5xx messages never leak internals; our own 503 messages are written for clients.
      if (status !== 503 || !error.code?.startsWith("NL_"))
        message = STATUS_CODES[status] ?? "internal error";
    }
    const { limit } = error as { limit?: LimitReached };
    return reply.status(status).send({
      statusCode: status,
      code: error.code ?? "NL_INTERNAL",
      error: STATUS_CODES[status] ?? "Error",
      message,
      ...(limit ? { limit } : {}),
    });
  };
}

/** Shutdown and the extensions' background work, tied to the app's lifecycle. */
function addLifecycleHooks(app: FastifyInstance, ctx: ServerContext): void {
  // Long-lived responses (live tails) end first, or close() would wait for them forever.
  app.addHook("preClose", async () => {
    for (const end of [...ctx.lifecycle.onShutdown]) end();
  });

  // Background work of extensions runs while the app runs (also under inject() in tests); stopped on close,
  // before the caller closes Redis.
  app.addHook("onReady", async () => {
    for (const extension of ctx.extensions) if (extension.start) await extension.start();
  });
  app.addHook("onClose", async () => {
    for (const extension of ctx.extensions) {
      try {
        if (extension.stop) await extension.stop();
      } catch (error) {
        app.log.error({ err: error, extension: extension.name }, "extension failed to stop");
      }
    }
  });
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Set on ingestion routes so rejects are counted per endpoint. */
    ingestEndpoint?: IngestEndpoint;
  }
}

export interface AppOptions {
  readonly config: ServerConfig;
  /** Owned by the caller (main.ts closes it after the app). */
  readonly redis: Redis;
  readonly extensions?: readonly ServerExtension[];
  /** Fastify logger options: default JSON logs at `config.logLevel`; tests pass false. */
  readonly logger?: FastifyServerOptions["logger"];
  /** A ready pino logger (main.ts shares one with the extensions); wins over `logger`. */
  readonly loggerInstance?: FastifyBaseLogger;
  /** Shared with the extensions (one rate-limit state per key); default: built from `config.apiKeys`. */
  readonly auth?: Authenticator;
  /** Shared with main.ts, which flips it on SIGTERM. */
  readonly lifecycle?: Lifecycle;
}

const REJECT_REASONS: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  413: "too_large",
  415: "unsupported_media_type",
  429: "rate_limited",
  503: "storage_unavailable",
};

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, redis } = options;
  const app = Fastify({
    ...(options.loggerInstance
      ? { loggerInstance: options.loggerInstance }
      : { logger: options.logger ?? { level: config.logLevel } }),
    // Ingestion routes set their own (larger) limit; everything else takes small JSON bodies.
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    // request.ip (the failed-authentication limit's key) is the client named by X-Forwarded-For only when the
    // connection comes from a trusted proxy; otherwise the header is ignored, since anyone can send it.
    trustProxy: config.trustedProxies.length > 0 ? [...config.trustedProxies] : false,
    forceCloseConnections: "idle",
  });
  const metrics = createMetrics();
  const ctx: ServerContext = {
    config,
    redis,
    store: new LogStore(redis, config.tenant, config.retention),
    auth: options.auth ?? createAuthenticator(config),
    metrics,
    tailSlots: new TailSlots({ server: config.maxTailClients, perKey: config.maxTailClientsPerKey }, (open) =>
      metrics.liveTails.set(open),
    ),
    lifecycle: options.lifecycle ?? { shuttingDown: false, onShutdown: new Set() },
    extensions: options.extensions ?? [],
  };
  app.decorate("neurallog", ctx);
  redisMemoryMetrics(ctx.metrics.registry, redis, (error) =>
    app.log.warn({ err: error }, "reading Redis memory for /metrics failed"),
  );

  app.setErrorHandler(errorHandler(ctx));

  app.addHook("onResponse", async (request, reply) => {
    ctx.metrics.requestDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? "unmatched",
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(swagger, {
    openapi: {
      info: { title: "NeuralLog server", version: "1", description: `Tenant ${config.tenant}` },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer" },
          basic: { type: "http", scheme: "basic" },
        },
      },
      security: [{ bearer: [] }, { basic: [] }],
    },
  });
  app.get("/docs/json", { schema: { hide: true } }, async () => app.swagger());

  await app.register(async (scope) => opsRoutes(scope, ctx));
  await app.register(async (scope) => ingestRoutes(scope, ctx));
  await app.register(async (scope) => queryRoutes(scope, ctx));
  await app.register(async (scope) => tailRoutes(scope, ctx));
  await app.register(async (scope) => lokiReadRoutes(scope, ctx));
  for (const extension of ctx.extensions) {
    if (extension.register) await extension.register(app);
  }

  addLifecycleHooks(app, ctx);
  return app;
}

declare module "fastify" {
  interface FastifyInstance {
    /** The server's shared context (config, Redis, store, auth, metrics); for extensions and tests. */
    neurallog: ServerContext;
  }
}
