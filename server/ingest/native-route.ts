/**
 * `POST /api/v1/logs`: a JSON object, a JSON array of objects, or NDJSON (one object per line), optionally
 * gzip/deflate-compressed. Partial success: valid entries are stored and invalid ones listed; 200 when at least
 * one entry was stored (or the body was empty), 400 when every entry was rejected.
 */
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.ts";
import { BadRequest } from "../errors.ts";
import {
  MAX_LISTED_REJECTIONS,
  checkBatchSize,
  storeBatch,
  type DecodedBatch,
  type Rejection,
} from "./batch.ts";
import { chargeJson } from "./body-shape.ts";
import { ingestMemoryOf } from "./ingest-preamble.ts";
import { EntryError, EntryNormalizer } from "./normalize.ts";
import { decodedBody, mediaType } from "./request-body.ts";

const NDJSON_TYPES = new Set([
  "application/x-ndjson",
  "application/ndjson",
  "application/jsonl",
  "application/jsonlines",
  "application/x-jsonlines",
  "text/plain",
]);

function firstNonSpace(text: string): string {
  const match = /\S/.exec(text);
  return match ? match[0] : "";
}

/** Decodes a native body; every problem with a single entry becomes a rejection naming it. */
export function decodeNativeBody(text: string, type: string, normalizer: EntryNormalizer): DecodedBatch {
  const limits = normalizer.limits;
  const entries: DecodedBatch["entries"] = [];
  const rejections: Rejection[] = [];
  const add = (position: number, record: unknown): void => {
    try {
      entries.push(normalizer.normalize(record));
    } catch (error) {
      if (!(error instanceof EntryError)) throw error;
      rejections.push({ entry: position, reason: error.message });
    }
  };
  const first = firstNonSpace(text);
  if (first === "[" || (first === "{" && !NDJSON_TYPES.has(type))) {
    let whole: unknown;
    let parsed = true;
    try {
      whole = JSON.parse(text);
    } catch (error) {
      // A JSON array must parse whole; an object that does not may be NDJSON sent as application/json.
      if (first === "[") throw new BadRequest(`the body is not valid JSON: ${(error as Error).message}`);
      parsed = false;
    }
    if (parsed) {
      const records = Array.isArray(whole) ? whole : [whole];
      checkBatchSize(records.length, limits.maxBatchEntries);
      records.forEach((record, i) => add(i + 1, record));
      return { entries, rejections };
    }
  }
  // NDJSON: count first so an oversized batch is refused before any parsing work.
  const lines = text.split("\n");
  let count = 0;
  for (const line of lines) if (line.trim() !== "") count++;
  checkBatchSize(count, limits.maxBatchEntries);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    if (line.length > limits.maxLineBytes && Buffer.byteLength(line) > limits.maxLineBytes) {
      rejections.push({
        entry: i + 1,
        reason: `line has ${Buffer.byteLength(line)} bytes, more than ${limits.maxLineBytes}`,
      });
      continue;
    }
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      rejections.push({ entry: i + 1, reason: `not valid JSON: ${(error as Error).message}` });
      continue;
    }
    add(i + 1, record);
  }
  return { entries, rejections };
}

export async function nativeIngestRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.post(
    "/api/v1/logs",
    {
      config: { ingestEndpoint: "native" },
      schema: {
        summary: "Ingest logs (JSON object, JSON array, or NDJSON; gzip or deflate)",
        tags: ["ingest"],
        consumes: ["application/json", "application/x-ndjson"],
        response: {
          200: {
            type: "object",
            properties: {
              accepted: { type: "integer" },
              rejected: { type: "integer" },
              errors: {
                type: "array",
                items: {
                  type: "object",
                  properties: { entry: { type: "integer" }, reason: { type: "string" } },
                },
              },
            },
          },
          400: { type: "object", additionalProperties: true },
        },
      },
    },
    async (request, reply) => {
      const limits = ctx.config.limits;
      const held = ingestMemoryOf(request);
      const body = await decodedBody(request, limits, held);
      chargeJson(body, held, limits.maxBatchEntries);
      const batch = decodeNativeBody(body.toString("utf8"), mediaType(request), new EntryNormalizer(limits));
      const stored = await storeBatch(ctx, "native", batch);
      const result = {
        accepted: stored.length,
        rejected: batch.rejections.length,
        ...(batch.rejections.length ? { errors: batch.rejections.slice(0, MAX_LISTED_REJECTIONS) } : {}),
      };
      if (stored.length === 0 && batch.rejections.length > 0) {
        const firstError = batch.rejections[0]!;
        return reply.status(400).send({
          statusCode: 400,
          code: "NL_INVALID_ENTRIES",
          error: "Bad Request",
          message: `every entry was rejected; entry ${firstError.entry}: ${firstError.reason}`,
          ...result,
        });
      }
      return result;
    },
  );
}
