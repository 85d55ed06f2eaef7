/**
 * `GET /loki/api/v1/tail`: Loki's live tail over a WebSocket, as Grafana's live mode and Loki clients use it.
 * First up to `limit` logs since `start` (default: an hour ago), oldest first, then every new log the query's
 * pipeline keeps, each message `{"streams": [...], "dropped_entries": null}`. It is a live tail like the SSE one
 * (server/tail/): the same slots and caps (a refused tail gets the same 503/429 before the upgrade), the same
 * connection of its own with `XREAD BLOCK`, ended on shutdown.
 */
import websocket from "@fastify/websocket";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import type { WebSocket } from "ws";
import type { ServerContext } from "../context.ts";
import { decodeEntry, entryData } from "../storage/stored-form.ts";
import { openTailReader, refusal, TAIL_BLOCK_MS } from "../tail/tail-route.ts";
import type { TailSlot } from "../tail/tail-slots.ts";
import type { LogSelectorExpr } from "./logql-ast.ts";
import { evalLogQuery, type LogRow } from "./logql-eval.ts";
import { LogqlError } from "./logql-lexer.ts";
import { parseLogSelector } from "./logql-parser.ts";
import { compilePipeline, type CompiledPipeline } from "./log-pipeline.ts";
import { LokiLimitError, type LogSearch } from "./log-scan.ts";
import { entryMillis, entryNanos } from "./log-labels.ts";
import { streamsResult } from "./loki-json.ts";
import { LokiParamError, limitParam, lokiTime, single, type LokiParams } from "./loki-params.ts";

const READ_COUNT = 500;
const HOUR_MS = 3_600_000;
/** Loki refuses a larger `delay_for` (seconds). */
const MAX_DELAY_FOR = 5;

interface TailPlan {
  readonly expr: LogSelectorExpr;
  readonly pipeline: CompiledPipeline;
  readonly limit: number;
  readonly startMs: number;
  readonly slot: TailSlot;
}

declare module "fastify" {
  interface FastifyRequest {
    lokiTail?: TailPlan;
  }
}

/** Orders stream ids (`ms-seq`) numerically. */
function idAfter(a: string, b: string): boolean {
  const [am, as] = a.split("-").map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split("-").map(BigInt) as [bigint, bigint];
  return am > bm || (am === bm && as > bs);
}

function message(rows: readonly LogRow[]): string {
  return JSON.stringify({ streams: streamsResult(rows, false), dropped_entries: null });
}

export async function lokiTailRoute(
  app: FastifyInstance,
  ctx: ServerContext,
  search: LogSearch,
): Promise<void> {
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  app.get(
    "/loki/api/v1/tail",
    {
      websocket: true,
      onRequest: ctx.auth.requireScope("read"),
      schema: { summary: "Live tail (WebSocket), Loki's tail protocol", tags: ["loki"] },
      // Parsed and given its slot before the upgrade, so a bad query or a full server is an HTTP answer.
      preHandler: async (request, reply) => {
        const params = request.query as LokiParams;
        let expr: LogSelectorExpr;
        let limit: number;
        let startMs: number;
        try {
          expr = parseLogSelector(single(params, "query") ?? "");
          limit = limitParam(params);
          startMs = lokiTime(params, "start") ?? Date.now() - HOUR_MS;
          const delay = Number(single(params, "delay_for") ?? "0");
          if (!Number.isFinite(delay) || delay < 0 || delay > MAX_DELAY_FOR)
            throw new LokiParamError(`delay_for can't be greater than ${MAX_DELAY_FOR}`);
        } catch (error) {
          if (
            error instanceof LogqlError ||
            error instanceof LokiParamError ||
            error instanceof LokiLimitError
          )
            return reply.status(400).type("text/plain; charset=utf-8").send(`${error.message}\n`);
          throw error;
        }
        const pipeline = compilePipeline(expr);
        const key = request.principal!.name;
        const taken = ctx.tailSlots.take(key);
        if ("refused" in taken) throw refusal(reply, key, taken);
        request.lokiTail = { expr, pipeline, limit, startMs, slot: taken.slot };
        // An upgrade that never reaches the handler (the client left) still gives its slot back.
        request.raw.socket.once("close", () => taken.slot.release());
      },
    },
    (socket: WebSocket, request: FastifyRequest) => {
      void serveTail(ctx, search, socket, request);
    },
  );
}

async function serveTail(ctx: ServerContext, search: LogSearch, socket: WebSocket, request: FastifyRequest) {
  const plan = request.lokiTail!;
  let reader: Redis | undefined;
  let ended = false;
  const end = (code = 1000, reason = ""): void => {
    if (ended) return;
    ended = true;
    plan.slot.release();
    ctx.lifecycle.onShutdown.delete(shutdown);
    reader?.disconnect();
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING)
      socket.close(code, reason);
  };
  const shutdown = (): void => end(1001, "server shutting down");
  ctx.lifecycle.onShutdown.add(shutdown);
  socket.once("close", () => end());
  socket.on("error", () => end());

  try {
    let lastId: string;
    ({ reader, lastId } = await openTailReader(ctx, ctx.store.keys.logs, undefined));
    if (ended) return void reader.disconnect();
    // The backfill ends at the newest log the live read starts after: nothing twice, nothing missed.
    const stats = { scanned: 0, bytes: 0 };
    const backfill = (
      await evalLogQuery(
        search,
        plan.expr,
        { startMs: plan.startMs, endMs: Date.now() + 1, limit: plan.limit, direction: "backward" },
        stats,
      )
    ).filter((row) => !idAfter(row.id, lastId));
    if (backfill.length) socket.send(message(backfill.reverse()));
    while (!ended) {
      const batch = (await reader.xread(
        "COUNT",
        READ_COUNT,
        "BLOCK",
        TAIL_BLOCK_MS,
        "STREAMS",
        ctx.store.keys.logs,
        lastId,
      )) as [string, [string, string[]][]][] | null;
      if (ended) break;
      if (!batch) {
        socket.ping();
        continue;
      }
      const rows: LogRow[] = [];
      for (const [id, kv] of batch[0]?.[1] ?? []) {
        lastId = id;
        const data = entryData(kv);
        if (data === undefined) continue;
        const entry = decodeEntry(id, data);
        const result = plan.pipeline(entry);
        if (result)
          rows.push({
            id,
            ns: entryNanos(entry),
            ms: entryMillis(entry),
            line: result.line,
            labels: result.labels,
          });
      }
      if (rows.length) socket.send(message(rows));
    }
  } catch (error) {
    if (!ended)
      request.log.warn({ err: error }, "Loki tail failed; closing the socket so the client reconnects");
    end(1011, "tail failed");
  }
}
