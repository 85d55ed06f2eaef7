/**
 * `GET /api/v1/logs/stream`: live tail as Server-Sent Events, with the query filters. Reads the log stream itself
 * with `XREAD BLOCK` on a connection of its own (pub/sub would drop messages); every event's id is the stream
 * id, so a reconnecting client's `Last-Event-ID` resumes exactly where it left off.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import type { ServerContext } from "../context.ts";
import { BadRequest, ServiceUnavailable } from "../errors.ts";
import { compileFilter, filterFromQuery } from "../query/log-filter.ts";
import { createRedisClient } from "../storage/redis-client.ts";
import { decodeEntry, entryData } from "../storage/stored-form.ts";

const BLOCK_MS = 15_000;
const READ_COUNT = 500;
const STREAM_ID = /^\d+-\d+$/;
/** How long a reconnecting client waits (the SSE `retry` field). */
const RETRY_MS = 2000;

async function write(reply: FastifyReply, chunk: string): Promise<void> {
  if (!reply.raw.write(chunk)) await new Promise<void>((resolve) => reply.raw.once("drain", resolve));
}

export async function tailRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  let clients = 0;
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
      if (clients >= ctx.config.maxTailClients) {
        throw new ServiceUnavailable(`too many live tails (${ctx.config.maxTailClients}); retry later`);
      }
      const compiled = compileFilter(filter);
      const logsKey = ctx.store.keys.logs;

      const { reader, lastId } = await openTailReader(ctx, logsKey, resume);

      clients++;
      let open = true;
      const close = (): void => {
        if (!open) return;
        open = false;
        clients--;
        ctx.lifecycle.onShutdown.delete(close);
        reader.disconnect();
        reply.raw.end();
      };
      ctx.lifecycle.onShutdown.add(close);
      request.raw.once("close", close);
      reader.on("error", () => undefined);

      reply.hijack();
      reply.raw.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      await write(reply, `retry: ${RETRY_MS}\n: tailing from ${lastId}\n\n`);

      await streamTail({ reader, reply, request, logsKey, lastId, compiled }, () => open, close);
    },
  );
}

/**
 * A connection of the tail's own (a blocking read has no command timeout) and where the tail starts: the
 * client's Last-Event-ID, or the newest entry. A 503 when Redis cannot be reached.
 */
async function openTailReader(
  ctx: ServerContext,
  logsKey: string,
  resume: unknown,
): Promise<{ reader: Redis; lastId: string }> {
  const reader: Redis = createRedisClient(ctx.config.redisUrl, {
    commandTimeoutMs: 0,
    connectionName: "neurallog-tail",
  });
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

/** Reads the stream while the client listens: matching entries as `log` events, a comment when idle. */
async function streamTail(
  { reader, reply, request, logsKey, compiled, ...start }: TailStream,
  isOpen: () => boolean,
  close: () => void,
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
      if (isOpen()) {
        request.log.warn({ err: error }, "live tail read failed; ending the stream so the client reconnects");
        close();
      }
      break;
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
