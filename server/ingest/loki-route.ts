/**
 * `POST /loki/api/v1/push`: Loki's push API, JSON (optionally gzip) or snappy-compressed protobuf, as Promtail,
 * Grafana Alloy, Fluent Bit's loki output and the Loki client libraries send it. Labels and structured metadata
 * become fields (the `level`/`service_name`/`job`... aliases apply); a line that is a JSON object is parsed too.
 * Partial success as in Loki: valid entries are stored; if some were rejected the answer is 400 listing them,
 * otherwise 204.
 */
import type { FastifyInstance } from "fastify";
import { uncompress } from "snappyjs";
import type { ServerContext } from "../context.ts";
import { BadRequest, PayloadTooLarge } from "../errors.ts";
import type { FieldValue } from "../logs/log-entry.ts";
import {
  MAX_LISTED_REJECTIONS,
  checkBatchSize,
  storeBatch,
  type DecodedBatch,
  type Rejection,
} from "./batch.ts";
import { EntryError, EntryNormalizer, parseTimestamp, type ParsedTime } from "./normalize.ts";
import { chargeJson, chargeProtobuf } from "./body-shape.ts";
import { DECODED_BYTE_COST, type BodyMemory } from "./ingest-memory.ts";
import { ingestMemoryOf } from "./ingest-preamble.ts";
import { decodedBody, mediaType, rawBody } from "./request-body.ts";
import { LokiEntry, LokiPushRequest, TO_OBJECT } from "./wire-schemas.ts";

interface LokiEntry {
  readonly time: ParsedTime | undefined;
  readonly rawTime: unknown;
  readonly line: string;
  readonly metadata: Record<string, string>;
}

interface LokiStream {
  readonly labels: Record<string, string> | string;
  readonly entries: LokiEntry[];
}

const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|})/y;

/** Parses Prometheus-style `{a="1", b="x\"y"}`; a string means "not understood" and is the reason. */
export function parseLabels(text: string): Record<string, string> | string {
  const labels: Record<string, string> = {};
  const trimmed = text.trim();
  if (!trimmed.startsWith("{"))
    return `labels ${JSON.stringify(text.slice(0, 80))} must look like {name="value", ...}`;
  if (/^\{\s*\}$/.test(trimmed)) return labels;
  LABEL.lastIndex = 1;
  for (;;) {
    const match = LABEL.exec(trimmed);
    if (!match) return `labels ${JSON.stringify(text.slice(0, 80))} must look like {name="value", ...}`;
    labels[match[1]!] = JSON.parse(`"${match[2]!.replace(/\n/g, "\\n")}"`) as string;
    if (match[3] === "}")
      return LABEL.lastIndex === trimmed.length
        ? labels
        : `labels ${JSON.stringify(text.slice(0, 80))} have trailing text`;
  }
}

function fromJson(raw: Buffer, memory: BodyMemory, maxEntries: number): LokiStream[] {
  chargeJson(raw, memory, maxEntries);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch (error) {
    throw new BadRequest(`the body is not valid JSON: ${(error as Error).message}`);
  }
  const streams = (body as { streams?: unknown })?.streams;
  if (!Array.isArray(streams))
    throw new BadRequest('the body must be {"streams": [{"stream": {...}, "values": [...]}]}');
  return streams.map((stream: unknown, s) => {
    const labels = (stream as { stream?: unknown })?.stream ?? {};
    const values = (stream as { values?: unknown })?.values;
    if (!Array.isArray(values)) throw new BadRequest(`streams[${s}].values must be an array of [time, line]`);
    const labelMap =
      typeof labels === "object" && labels !== null && !Array.isArray(labels)
        ? (labels as Record<string, string>)
        : `streams[${s}].stream must be an object`;
    return {
      labels: labelMap,
      entries: values.map((value: unknown) => {
        const [rawTime, line, metadata] = Array.isArray(value) ? value : [];
        return {
          time: parseTimestamp(rawTime as FieldValue),
          rawTime,
          line: typeof line === "string" ? line : (undefined as unknown as string),
          metadata: metadata && typeof metadata === "object" ? (metadata as Record<string, string>) : {},
        };
      }),
    };
  });
}

interface ProtoPush {
  streams?: {
    labels?: string;
    entries?: {
      timestamp?: { seconds?: string; nanos?: number };
      line?: string;
      structuredMetadata?: { name?: string; value?: string }[];
    }[];
  }[];
}

function fromProtobuf(body: Buffer, maxBytes: number, memory: BodyMemory, maxEntries: number): LokiStream[] {
  let raw: Buffer;
  try {
    raw = Buffer.from(uncompress(body, maxBytes));
  } catch (error) {
    const message = (error as Error).message;
    if (/too big/.test(message))
      throw new PayloadTooLarge(`the body decompresses to more than ${maxBytes} bytes`);
    throw new BadRequest(`the body is not snappy-compressed protobuf: ${message}`);
  }
  memory.take(raw.length * DECODED_BYTE_COST);
  chargeProtobuf(raw, LokiPushRequest, LokiEntry, memory, maxEntries);
  let push: ProtoPush;
  try {
    push = LokiPushRequest.toObject(LokiPushRequest.decode(raw), TO_OBJECT) as ProtoPush;
  } catch (error) {
    throw new BadRequest(`the body is not a Loki PushRequest: ${(error as Error).message}`);
  }
  return (push.streams ?? []).map((stream) => ({
    labels: parseLabels(stream.labels ?? "{}"),
    entries: (stream.entries ?? []).map((entry) => {
      const seconds = BigInt(entry.timestamp?.seconds ?? "0");
      const ns = seconds * 1_000_000_000n + BigInt(entry.timestamp?.nanos ?? 0);
      return {
        time: parseTimestamp(ns.toString()),
        rawTime: ns.toString(),
        line: entry.line ?? "",
        metadata: Object.fromEntries(
          (entry.structuredMetadata ?? []).map((p) => [p.name ?? "", p.value ?? ""]),
        ),
      };
    }),
  }));
}

export function decodeLokiStreams(streams: LokiStream[], normalizer: EntryNormalizer): DecodedBatch {
  checkBatchSize(
    streams.reduce((n, s) => n + s.entries.length, 0),
    normalizer.limits.maxBatchEntries,
  );
  const entries: DecodedBatch["entries"] = [];
  const rejections: Rejection[] = [];
  let position = 0;
  streams.forEach((stream, s) => {
    stream.entries.forEach((entry, e) => {
      position++;
      const where = `stream ${s + 1} entry ${e + 1}`;
      if (typeof stream.labels === "string")
        return void rejections.push({ entry: position, reason: `${where}: ${stream.labels}` });
      if (typeof entry.line !== "string")
        return void rejections.push({ entry: position, reason: `${where}: the line must be a string` });
      if (!entry.time) {
        return void rejections.push({
          entry: position,
          reason: `${where}: timestamp ${JSON.stringify(entry.rawTime)} is not nanoseconds since the epoch`,
        });
      }
      if (Buffer.byteLength(entry.line) > normalizer.limits.maxLineBytes) {
        return void rejections.push({
          entry: position,
          reason: `${where}: the line is longer than ${normalizer.limits.maxLineBytes} bytes`,
        });
      }
      let parsed: Record<string, unknown> | undefined;
      if (entry.line.startsWith("{")) {
        try {
          const value = JSON.parse(entry.line) as unknown;
          if (value && typeof value === "object" && !Array.isArray(value))
            parsed = value as Record<string, unknown>;
        } catch {
          // Not JSON after all: the line is the message.
        }
      }
      try {
        const record = { ...stream.labels, ...entry.metadata, ...(parsed ?? {}) };
        const normalized = normalizer.normalize(record, {
          timestamp: entry.time,
          ...(parsed ? {} : { message: entry.line }),
        });
        entries.push(
          normalized.message === "" && parsed ? { ...normalized, message: entry.line } : normalized,
        );
      } catch (error) {
        if (!(error instanceof EntryError)) throw error;
        rejections.push({ entry: position, reason: `${where}: ${error.message}` });
      }
    });
  });
  return { entries, rejections };
}

export async function lokiRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.post(
    "/loki/api/v1/push",
    {
      config: { ingestEndpoint: "loki" },
      schema: {
        summary: "Loki push API (JSON, or snappy-compressed protobuf)",
        tags: ["ingest"],
        consumes: ["application/json", "application/x-protobuf"],
      },
    },
    async (request, reply) => {
      const limits = ctx.config.limits;
      const type = mediaType(request);
      // The protobuf body is snappy-compressed by definition; some clients also say so in Content-Encoding.
      const snappyHeader = String(request.headers["content-encoding"] ?? "").toLowerCase() === "snappy";
      const held = ingestMemoryOf(request);
      const body = snappyHeader ? rawBody(request) : await decodedBody(request, limits, held);
      const streams =
        type === "application/x-protobuf" || type === "application/protobuf"
          ? fromProtobuf(body, limits.maxDecompressedBytes, held, limits.maxBatchEntries)
          : fromJson(body, held, limits.maxBatchEntries);
      const batch = decodeLokiStreams(streams, new EntryNormalizer(limits));
      await storeBatch(ctx, "loki", batch);
      if (batch.rejections.length === 0) return reply.status(204).send();
      // Loki answers 400 with a text listing what it refused; the valid entries are stored.
      const listed = batch.rejections.slice(0, MAX_LISTED_REJECTIONS).map((r) => r.reason);
      return reply
        .status(400)
        .type("text/plain; charset=utf-8")
        .send(
          `${batch.rejections.length} of ${batch.rejections.length + batch.entries.length} entries rejected (the others were stored):\n${listed.join("\n")}\n`,
        );
    },
  );
}
