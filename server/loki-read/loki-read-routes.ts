/**
 * Loki's read API at Loki's paths, GET and POST (form-encoded) alike, with the `read` scope like the REST API:
 * `query_range`, `query` (loki-query-routes.ts), `labels`, `label/<name>/values`, `series`, `index/stats`,
 * `index/volume` (loki-metadata-routes.ts), `status/buildinfo`, `tail` (WebSocket, loki-tail.ts) and `/ready`.
 * A query or parameter this server cannot answer exactly is a 400 with a text body, as Loki answers.
 */
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.ts";
import { queryStats as storedStats } from "../query/log-stats.ts";
import { queryLogs } from "../query/query-logs.ts";
import type { LogSearch } from "./log-scan.ts";
import { acceptFormBodies, lokiRoute } from "./loki-http.ts";
import type { MetadataSources } from "./loki-metadata.ts";
import { lokiMetadataRoutes } from "./loki-metadata-routes.ts";
import { lokiQueryRoutes } from "./loki-query-routes.ts";
import { lokiTailRoute } from "./loki-tail.ts";

/** The version Grafana reads from buildinfo: the Loki API generation these answers follow. */
export const LOKI_API_VERSION = "3.0.0";

export async function lokiReadRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const { tenant } = ctx.config;
  const search: LogSearch = (query) => queryLogs(ctx.redis, tenant, query);
  const sources: MetadataSources = { search, stats: (query) => storedStats(ctx.redis, tenant, query) };
  acceptFormBodies(app);
  lokiQueryRoutes(app, ctx, search);
  lokiMetadataRoutes(app, ctx, sources);

  lokiRoute(
    app,
    ctx,
    "/loki/api/v1/status/buildinfo",
    "The Loki API version these answers follow",
    async () => ({
      version: LOKI_API_VERSION,
      revision: "neurallog",
      branch: "",
      buildUser: "",
      buildDate: "",
      goVersion: "",
    }),
  );

  // Loki's readiness probe: the same conditions as /readyz, answered as Loki does (text).
  app.get(
    "/ready",
    { schema: { summary: "Loki-style readiness (text)", tags: ["loki"] } },
    async (_request, reply) => {
      let ready = !ctx.lifecycle.shuttingDown;
      if (ready)
        ready = await ctx.redis.ping().then(
          () => true,
          () => false,
        );
      if (!ready)
        return reply
          .status(503)
          .header("retry-after", "1")
          .type("text/plain; charset=utf-8")
          .send("not ready\n");
      return reply.type("text/plain; charset=utf-8").send("ready\n");
    },
  );

  await lokiTailRoute(app, ctx, search);
}
