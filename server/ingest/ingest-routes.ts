/**
 * The ingestion routes, in their own encapsulated context: bodies arrive as raw bytes (every protocol decodes
 * its own format, compressed or not) up to the body limit, whatever the content type.
 *
 * What every ingest route does before its protocol's own work is one route hook (ingest-preamble.ts), applied to
 * each route whose config names an `ingestEndpoint`.
 */
import type { FastifyInstance } from "fastify";
import { Gauge } from "prom-client";
import type { ServerContext } from "../context.ts";
import { elasticRoutes } from "./elastic-route.ts";
import { ingestPreamble } from "./ingest-preamble.ts";
import { IngestMemory, defaultIngestMemoryBytes } from "./ingest-memory.ts";
import { lokiRoutes } from "./loki-route.ts";
import { nativeIngestRoutes } from "./native-route.ts";
import { otlpRoutes } from "./otlp-route.ts";

export async function ingestRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    "*",
    { parseAs: "buffer", bodyLimit: ctx.config.limits.maxBodyBytes },
    (_request, body, done) => {
      done(null, body);
    },
  );
  // One budget for every protocol: what they decode at once is what the heap must hold.
  const memory = new IngestMemory(ctx.config.limits.ingestMemoryBytes ?? defaultIngestMemoryBytes());
  new Gauge({
    name: "neurallog_ingest_memory_bytes",
    help: "Memory held by ingestion requests being decoded, and the budget (over it: 503 + Retry-After)",
    labelNames: ["kind"],
    registers: [ctx.metrics.registry],
    collect() {
      this.set({ kind: "in_use" }, memory.inUse);
      this.set({ kind: "budget" }, memory.capacity);
    },
  });
  // Before the routes: onRoute hooks see only routes added after them (child contexts inherit it).
  app.addHook("onRoute", (route) => ingestPreamble(route, ctx, memory));
  await nativeIngestRoutes(app, ctx);
  await lokiRoutes(app, ctx);
  await otlpRoutes(app, ctx);
  // Its own context: the X-Elastic-Product header goes on its responses only.
  await app.register(async (scope) => elasticRoutes(scope, ctx));
}
