/**
 * How every Loki read route is served: parameters from the query string and the form body alike (Grafana may
 * POST), the `read` scope, and Loki's error answers (a 400 with a text body for queries and limits, 503 when
 * Redis fails).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ServerContext } from "../context.ts";
import { ServiceUnavailable } from "../errors.ts";
import type { LogSelectorExpr } from "./logql-ast.ts";
import { LogqlError } from "./logql-lexer.ts";
import { parseLogSelector } from "./logql-parser.ts";
import { LokiLimitError } from "./log-scan.ts";
import { LokiParamError, single, type LokiParams } from "./loki-params.ts";

export type LokiHandler = (
  params: LokiParams,
  request: FastifyRequest,
  reply: FastifyReply,
) => Promise<unknown>;

/** Query string and form body as one parameter map (repeated names, such as `match[]`, as arrays). */
function lokiParams(request: FastifyRequest): LokiParams {
  const merged: Record<string, string | string[]> = {};
  const add = (source: unknown): void => {
    if (!source || typeof source !== "object") return;
    for (const [name, value] of Object.entries(source as Record<string, unknown>)) {
      const values = (Array.isArray(value) ? value : [value]).map(String);
      const existing = merged[name];
      const all =
        existing === undefined ? values : [...(Array.isArray(existing) ? existing : [existing]), ...values];
      merged[name] = all.length === 1 ? all[0]! : all;
    }
  };
  add(request.query);
  add(request.body);
  return merged;
}

function formBody(body: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(body)) {
    const existing = out[name];
    out[name] =
      existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  return out;
}

/** Loki's answer to a query it cannot run: 400 with the reason as text. */
export function badQuery(reply: FastifyReply, message: string): FastifyReply {
  return reply.status(400).type("text/plain; charset=utf-8").send(`${message}\n`);
}

export function requiredQuery(params: LokiParams): string {
  const query = single(params, "query");
  if (query === undefined) throw new LokiParamError("query parameter is required");
  return query;
}

export function optionalSelector(params: LokiParams): LogSelectorExpr | undefined {
  const query = single(params, "query");
  return query === undefined ? undefined : parseLogSelector(query);
}

/** Form-encoded bodies (POST) become parameters like the query string's. */
export function acceptFormBodies(app: FastifyInstance): void {
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string" },
    (_request, body, done) => done(null, formBody(body as string)),
  );
}

/** GET and POST of one Loki path, with the read scope and Loki's error answers. */
export function lokiRoute(
  app: FastifyInstance,
  ctx: ServerContext,
  path: string,
  summary: string,
  handler: LokiHandler,
): void {
  const options = {
    onRequest: ctx.auth.requireScope("read"),
    schema: { summary, tags: ["loki"] },
  };
  const run = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const stop = ctx.metrics.redisDuration.startTimer({ operation: "query" });
    try {
      return await handler(lokiParams(request), request, reply);
    } catch (error) {
      if (error instanceof LogqlError || error instanceof LokiParamError || error instanceof LokiLimitError)
        return badQuery(reply, error.message);
      throw new ServiceUnavailable("log storage is unavailable; retry later", { cause: error });
    } finally {
      stop();
    }
  };
  app.get(path, options, run);
  app.post(path, options, run);
}
