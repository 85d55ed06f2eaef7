/**
 * What every ingest route does before its protocol's own work, as one Fastify `onRoute` hook applied to each route
 * whose config names an `ingestEndpoint`: the `ingest` scope checked first (before the body is read), the body
 * counted as sent, and the request's share of the ingest memory held while the handler runs (`ingestMemoryOf`).
 */
import type { FastifyRequest, RouteOptions } from "fastify";
import type { ServerContext } from "../context.ts";
import type { IngestEndpoint } from "../ops/metrics.ts";
import type { BodyMemory, IngestMemory } from "./ingest-memory.ts";
import { rawBody, withIngestMemory } from "./request-body.ts";

const heldMemory = new WeakMap<FastifyRequest, BodyMemory>();

/** The ingest memory the preamble opened for this request (decoders charge what they hold to it). */
export function ingestMemoryOf(request: FastifyRequest): BodyMemory {
  const held = heldMemory.get(request);
  if (!held) throw new Error(`${request.url}: not an ingest route (no ingestEndpoint in its config)`);
  return held;
}

/**
 * For a route with `config.ingestEndpoint`: authentication with the `ingest` scope first (before the body is
 * read), then, around the handler, the received bytes counted per endpoint (as sent, before decompression) and
 * the request's ingest memory taken for the raw body and given back when the handler ends, however it ends.
 */
export function ingestPreamble(route: RouteOptions, ctx: ServerContext, memory: IngestMemory): void {
  const endpoint = (route.config as { ingestEndpoint?: IngestEndpoint } | undefined)?.ingestEndpoint;
  if (endpoint === undefined) return;
  const own = route.onRequest === undefined ? [] : [route.onRequest].flat();
  route.onRequest = [ctx.auth.requireScope("ingest"), ...own];
  const handler = route.handler;
  route.handler = function ingestHandler(request, reply) {
    ctx.metrics.ingestedBytes.inc({ endpoint }, rawBody(request).length);
    return withIngestMemory(memory, request, async (held) => {
      heldMemory.set(request, held);
      return handler.call(this, request, reply);
    });
  };
}
