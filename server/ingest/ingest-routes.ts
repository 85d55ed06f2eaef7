/**
 * The ingestion routes, in their own encapsulated context: bodies arrive as raw bytes (every protocol decodes
 * its own format, compressed or not) up to the body limit, whatever the content type.
 */
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.ts";
import { elasticRoutes } from "./elastic-route.ts";
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
  await nativeIngestRoutes(app, ctx);
  await lokiRoutes(app, ctx);
  await otlpRoutes(app, ctx);
  // Its own context: the X-Elastic-Product header goes on its responses only.
  await app.register(async (scope) => elasticRoutes(scope, ctx));
}
