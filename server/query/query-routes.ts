/** `GET /api/v1/logs` (search, newest first, cursor pages) and `GET /api/v1/stats` (counts to plot). */
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.ts";
import { BadRequest, ServiceUnavailable } from "../errors.ts";
import { filterFromQuery } from "./log-filter.ts";
import { InvalidStatsQueryError, queryStats } from "./log-stats.ts";
import { InvalidCursorError, MAX_LIMIT, queryLogs } from "./query-logs.ts";

const filterParams = {
  from: { type: "string", description: "ISO 8601 or epoch (s/ms/µs/ns), inclusive" },
  to: { type: "string", description: "ISO 8601 or epoch, exclusive" },
  // Checked by filterFromQuery, which names every bad parameter in one message.
  level: { type: "string", description: "trace, debug, info, warn, error or fatal: this level or worse" },
  source: { type: "string" },
  q: { type: "string", description: 'message tokens, all required; "quoted phrase" for tokens in a row' },
} as const;

export const logEntrySchema = {
  type: "object",
  properties: {
    id: { type: "string" },
    timestamp: { type: "number" },
    level: { type: "string" },
    message: { type: "string" },
    source: { type: "string" },
    traceId: { type: "string" },
    spanId: { type: "string" },
    fields: { type: "object", additionalProperties: true },
  },
} as const;

/** Redis failures on the read path are a 503 too: the client retries, nothing is lost. */
async function fromStorage<T>(ctx: ServerContext, operation: string, read: () => Promise<T>): Promise<T> {
  const stop = ctx.metrics.redisDuration.startTimer({ operation });
  try {
    return await read();
  } catch (error) {
    if (error instanceof InvalidCursorError || error instanceof InvalidStatsQueryError)
      throw new BadRequest(error.message);
    throw new ServiceUnavailable("log storage is unavailable; retry later", { cause: error });
  } finally {
    stop();
  }
}

export async function queryRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const { tenant } = ctx.config;

  app.get(
    "/api/v1/logs",
    {
      onRequest: ctx.auth.requireScope("read"),
      schema: {
        summary: "Search logs, newest first; field.<name>=<value> filters by exact field value",
        tags: ["query"],
        querystring: {
          type: "object",
          properties: {
            ...filterParams,
            limit: { type: "integer", minimum: 1, maximum: MAX_LIMIT, default: 100 },
            cursor: { type: "string", description: "nextCursor of the previous page" },
          },
          additionalProperties: true,
        },
        response: {
          200: {
            type: "object",
            properties: { entries: { type: "array", items: logEntrySchema }, nextCursor: { type: "string" } },
          },
        },
      },
    },
    async (request) => {
      const query = request.query as Record<string, unknown>;
      const { filter, problems } = filterFromQuery(query);
      if (problems.length) throw new BadRequest(problems.join("; "));
      const cursor = typeof query.cursor === "string" && query.cursor ? query.cursor : undefined;
      return fromStorage(ctx, "query", () =>
        queryLogs(ctx.redis, tenant, {
          ...filter,
          limit: query.limit as number,
          ...(cursor ? { cursor } : {}),
        }),
      );
    },
  );

  app.get(
    "/api/v1/stats",
    {
      onRequest: ctx.auth.requireScope("read"),
      schema: {
        summary: "Log counts per level and source over time buckets (columns ready to plot)",
        tags: ["query"],
        querystring: {
          type: "object",
          properties: {
            from: { type: "string", description: "default: 1 hour before `to`" },
            to: { type: "string", description: "default: now" },
            step: { type: "integer", minimum: 60, description: "bucket seconds, a multiple of 60" },
          },
        },
      },
    },
    async (request) => {
      const query = request.query as Record<string, unknown>;
      const { filter, problems } = filterFromQuery({ from: query.from, to: query.to });
      const to = filter.to ?? Date.now();
      const from = filter.from ?? to - 3_600_000;
      const step = query.step as number | undefined;
      // The range and bucket bounds are checked by queryStats itself (MCP goes through it too).
      if (problems.length) throw new BadRequest(problems.join("; "));
      return fromStorage(ctx, "stats", () =>
        queryStats(ctx.redis, tenant, { from, to, ...(step !== undefined ? { stepSeconds: step } : {}) }),
      );
    },
  );
}
