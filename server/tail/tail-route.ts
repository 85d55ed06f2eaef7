/**
 * `GET /api/v1/logs/stream`: live tail as Server-Sent Events, with the query filters. Reads the log stream itself
 * with `XREAD BLOCK` on a connection of its own (pub/sub would drop messages); every event's id is the stream
 * id, so a reconnecting client's `Last-Event-ID` resumes exactly where it left off.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import type { ServerContext } from "../context.ts";
import { BadRequest, KeyTailLimit, ServerTailLimit, ServiceUnavailable, withLimit } from "../errors.ts";
import { compileFilter, filterFromQuery } from "../query/log-filter.ts";
import { createRedisClient } from "../storage/redis-client.ts";
import { decodeEntry, entryData } from "../storage/stored-form.ts";
import type { TailSlot, TailTake } from "./tail-slots.ts";

const BLOCK_MS = 15_000;
const READ_COUNT = 500;
const STREAM_ID = /^\d+-\d+$/;
/** How long a reconnecting client waits (the SSE `retry` field). */
const RETRY_MS = 2000;
/** Retry-After of a tail refused at a cap: tails last minutes, a slot rarely frees within a second. */
const REFUSED_RETRY_AFTER_S = 10;
/** How long one blocking read waits before the tail sends a keep-alive. */
export const TAIL_BLOCK_MS = BLOCK_MS;

/** Waits for the socket to drain, or for the connection to go away (a closed socket never drains). */
async function write(reply: FastifyReply, chunk: string): Promise<void> {
  const res = reply.raw;
  if (res.destroyed || res.writableEnded) return;
  if (res.write(chunk)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

/** The answer to a tail over a cap: 503 for the server's, 429 for the key's, with Retry-After and the cap. */
export function refusal(
  reply: FastifyReply,
  key: string,
  refused: Extract<TailTake, { refused: unknown }>,
): Error {
  reply.header("retry-after", String(REFUSED_RETRY_AFTER_S));
  if (refused.refused === "server") {
    return withLimit(
      new ServerTailLimit(`this server holds its limit of ${refused.limit} live tails; retry later`),
      { scope: "server", setting: "NEURALLOG_MAX_TAIL_CLIENTS", value: refused.limit },
    );
  }
  return withLimit(
    new KeyTailLimit(
      `the API key "${key}" holds its limit of ${refused.limit} live tails; close one or retry later`,
    ),
    { scope: "key", setting: "NEURALLOG_MAX_TAIL_CLIENTS_PER_KEY", value: refused.limit },
  );
}

export async function tailRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const slots = ctx.tailSlots;
  app.get(
    "/api/v1/logs/stream",
    {
      onRequest: ctx.auth.requireScope("read"),
      schema: {
        summary: "Live tail (Server-Sent Events, event `log`, id = log id); resumable with Last-Event-ID",
        tags: ["query"],
        querystring: {
          type: "object",
          properties: {
            level: { type: "string" },
            source: { type: "string" },
            q: { type: "string" },
            lastEventId: {
              type: "string",
              description: "like the Last-Event-ID header, for clients that cannot set it",
            },
          },
          additionalProperties: true,
        },
      },
    },
    async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      const { filter, problems } = filterFromQuery(query);
      const resume = request.headers["last-event-id"] ?? query.lastEventId;
      if (resume !== undefined && (typeof resume !== "string" || !STREAM_ID.test(resume))) {
        problems.push("Last-Event-ID must be a log id (ms-seq) from this stream");
      }
      if (problems.length) throw new BadRequest(problems.join("; "));
      const compiled = compileFilter(filter);
      const key = request.principal!.name;
      // Checked and taken in one step, before the first await; serveTail gives it back.
      const taken = slots.take(key);
      if ("refused" in taken) throw refusal(reply, key, taken);
      await serveTail(ctx, { request, reply, slot: taken.slot, compiled, resume });
    },
  );
}

interface TailRequest {
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
  readonly slot: TailSlot;
  readonly compiled: ReturnType<typeof compileFilter>;
  readonly resume: unknown;
}

/**
 * One tail, from its slot to its end. Every way it ends goes through `end`, which gives the slot back (once):
 * the client going away (also while the tail still connects to Redis), server shutdown, a failed Redis read,
 * Redis unreachable at the start (503), or an error while streaming.
 */
async function serveTail(
  ctx: ServerContext,
  { request, reply, slot, compiled, resume }: TailRequest,
): Promise<void> {
  let reader: Redis | undefined;
  let streaming = false;
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    slot.release();
    ctx.lifecycle.onShutdown.delete(end);
    reply.raw.off("close", end);
    reader?.disconnect();
    if (streaming) reply.raw.end();
  };
  ctx.lifecycle.onShutdown.add(end);
  reply.raw.once("close", end);

  const logsKey = ctx.store.keys.logs;
  let lastId: string;
  try {
    ({ reader, lastId } = await openTailReader(ctx, logsKey, resume));
  } catch (error) {
    end();
    throw error;
  }
  if (ended) {
    // The client left, or the server began shutting down, while the tail was connecting.
    reader.disconnect();
    throw new ServiceUnavailable("the live tail ended before it started");
  }

  reply.hijack();
  streaming = true;
  try {
    reply.raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    await write(reply, `retry: ${RETRY_MS}\n: tailing from ${lastId}\n\n`);
    await streamTail({ reader, reply, request, logsKey, lastId, compiled }, () => !ended);
  } catch (error) {
    request.log.warn({ err: error }, "live tail failed; ending the stream so the client reconnects");
  } finally {
    end();
  }
}

/**
 * A connection of the tail's own (a blocking read has no command timeout) and where the tail starts: the
 * client's Last-Event-ID, or the newest entry. A 503 when Redis cannot be reached (the reader disconnected).
 */
export async function openTailReader(
  ctx: ServerContext,
  logsKey: string,
  resume: unknown,
): Promise<{ reader: Redis; lastId: string }> {
  const reader: Redis = createRedisClient(ctx.config.redisUrl, {
    password: ctx.config.redisPassword,
    commandTimeoutMs: 0,
    connectionName: "neurallog-tail",
  });
  // Connection errors end the tail through its failed read; an error event must not go unheard.
  reader.on("error", () => undefined);
  let lastId: string;
  try {
    await new Promise<void>((resolve, reject) => {
      reader.once("ready", resolve);
      reader.once("error", reject);
    });
    if (typeof resume === "string") lastId = resume;
    else {
      const newest = (await reader.xrevrange(logsKey, "+", "-", "COUNT", 1)) as [string, string[]][];
      lastId = newest[0]?.[0] ?? "0-0";
    }
  } catch (error) {
    reader.disconnect();
    throw new ServiceUnavailable("log storage is unavailable; retry later", { cause: error });
  }
  return { reader, lastId };
}

interface TailStream {
  readonly reader: Redis;
  readonly reply: FastifyReply;
  readonly request: FastifyRequest;
  readonly logsKey: string;
  readonly lastId: string;
  readonly compiled: ReturnType<typeof compileFilter>;
}

/**
 * Reads the stream while the client listens: matching entries as `log` events, a comment when idle. Returns when
 * the tail ended or its read failed; the caller ends the stream.
 */
async function streamTail(
  { reader, reply, request, logsKey, compiled, ...start }: TailStream,
  isOpen: () => boolean,
): Promise<void> {
  let lastId = start.lastId;
  while (isOpen()) {
    let batch: [string, [string, string[]][]][] | null;
    try {
      batch = (await reader.xread(
        "COUNT",
        READ_COUNT,
        "BLOCK",
        BLOCK_MS,
        "STREAMS",
        logsKey,
        lastId,
      )) as typeof batch;
    } catch (error) {
      // Redis went away (or the tail ended and disconnected its reader): the caller ends the stream.
      if (isOpen())
        request.log.warn({ err: error }, "live tail read failed; ending the stream so the client reconnects");
      return;
    }
    if (!isOpen()) break;
    if (!batch) {
      await write(reply, ": keep-alive\n\n");
      continue;
    }
    let out = "";
    for (const [id, kv] of batch[0]?.[1] ?? []) {
      lastId = id;
      const data = entryData(kv);
      if (data === undefined) continue;
      const entry = decodeEntry(id, data);
      if (compiled.matches(entry)) out += `id: ${id}\nevent: log\ndata: ${JSON.stringify(entry)}\n\n`;
    }
    if (out) await write(reply, out);
  }
}
