/**
 * Raw request bodies of the ingestion routes: kept as bytes (each protocol decodes its own format), then
 * decompressed per `Content-Encoding` within the decompressed-size limit, every decoded byte taken from the
 * request's ingest memory as it comes out of zlib (so a 70 KB gzip of 64 MB is stopped at the budget, not after).
 */
import { createGunzip, createInflate, type Gunzip, type Inflate } from "node:zlib";
import type { FastifyRequest } from "fastify";
import type { IngestLimits } from "../config/config.ts";
import { BadRequest, PayloadTooLarge, UnsupportedMediaType } from "../errors.ts";
import { DECODED_BYTE_COST, type BodyMemory, type IngestMemory } from "./ingest-memory.ts";

function tooLarge(limits: IngestLimits): Error {
  return new PayloadTooLarge(`the body decompresses to more than ${limits.maxDecompressedBytes} bytes`);
}

/** The raw body, as the content-type parser kept it. */
export function rawBody(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

/**
 * Runs an ingestion handler with the request's share of the ingest memory: the raw body is taken first, the
 * decoders take the rest; all of it is given back when `work` ends, however it ends.
 */
export async function withIngestMemory<T>(
  budget: IngestMemory,
  request: FastifyRequest,
  work: (memory: BodyMemory) => Promise<T>,
): Promise<T> {
  const memory = budget.open();
  try {
    memory.take(rawBody(request).length);
    return await work(memory);
  } finally {
    memory.release();
  }
}

/** The body decompressed per Content-Encoding, each decoded byte charged to `memory` at its decoding cost. */
export async function decodedBody(
  request: FastifyRequest,
  limits: IngestLimits,
  memory: BodyMemory,
): Promise<Buffer> {
  const raw = rawBody(request);
  const encoding = (request.headers["content-encoding"] ?? "identity").toString().trim().toLowerCase();
  if (encoding === "identity" || encoding === "") {
    memory.take(raw.length * DECODED_BYTE_COST);
    return raw;
  }
  const inflater =
    encoding === "gzip" || encoding === "x-gzip"
      ? createGunzip
      : encoding === "deflate"
        ? createInflate
        : undefined;
  if (!inflater)
    throw new UnsupportedMediaType(`Content-Encoding "${encoding}" is not supported (use gzip or deflate)`);
  return inflateWithin(inflater(), raw, encoding, limits, memory);
}

function inflateWithin(
  stream: Gunzip | Inflate,
  raw: Buffer,
  encoding: string,
  limits: IngestLimits,
  memory: BodyMemory,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (error: Error): void => {
      stream.destroy();
      reject(error);
    };
    stream.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxDecompressedBytes) return fail(tooLarge(limits));
      try {
        memory.take(chunk.length * DECODED_BYTE_COST);
      } catch (error) {
        return fail(error as Error);
      }
      chunks.push(chunk);
    });
    stream.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    stream.on("error", (error) =>
      reject(
        new BadRequest(`the ${encoding} body cannot be decompressed: ${error.message}`, { cause: error }),
      ),
    );
    stream.end(raw);
  });
}

export function mediaType(request: FastifyRequest): string {
  return (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
}

export { tooLarge as decompressedTooLarge };
