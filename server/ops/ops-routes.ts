/** `/healthz` (the process runs), `/readyz` (Redis answers and we are not shutting down), `/metrics`. */
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.ts";

const READY_PING_TIMEOUT_MS = 1000;

async function redisAnswers(ctx: ServerContext): Promise<boolean> {
  if (ctx.redis.status !== "ready") return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("ping timed out")), READY_PING_TIMEOUT_MS);
    });
    return (await Promise.race([ctx.redis.ping(), timeout])) === "PONG";
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export async function opsRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get("/healthz", { schema: { hide: true }, logLevel: "warn" }, async () => ({ status: "ok" }));

  app.get("/readyz", { schema: { hide: true }, logLevel: "warn" }, async (_request, reply) => {
    if (ctx.lifecycle.shuttingDown) return reply.status(503).send({ status: "shutting down" });
    if (!(await redisAnswers(ctx))) {
      return reply.status(503).header("retry-after", "1").send({ status: "redis unavailable" });
    }
    return { status: "ready" };
  });

  app.get("/metrics", { schema: { hide: true }, logLevel: "warn" }, async (_request, reply) => {
    reply.header("content-type", ctx.metrics.registry.contentType);
    return ctx.metrics.text();
  });
}
