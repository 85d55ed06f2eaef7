/**
 * Raw request bodies of the ingestion routes: kept as bytes (each protocol decodes its own format), then
 * decompressed per `Content-Encoding` within the decompressed-size limit.
 */
import { promisify } from "node:util";
import { gunzip, inflate } from "node:zlib";
import type { FastifyRequest } from "fastify";
import type { IngestLimits } from "../config/config.ts";
import { BadRequest, PayloadTooLarge, UnsupportedMediaType } from "../errors.ts";

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

function tooLarge(limits: IngestLimits): Error {
  return new PayloadTooLarge(`the body decompresses to more than ${limits.maxDecompressedBytes} bytes`);
}

export async function decodedBody(request: FastifyRequest, limits: IngestLimits): Promise<Buffer> {
  const body = request.body;
  const raw = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  const encoding = (request.headers["content-encoding"] ?? "identity").toString().trim().toLowerCase();
  if (encoding === "identity" || encoding === "") return raw;
  const inflater =
    encoding === "gzip" || encoding === "x-gzip"
      ? gunzipAsync
      : encoding === "deflate"
        ? inflateAsync
        : undefined;
  if (!inflater)
    throw new UnsupportedMediaType(`Content-Encoding "${encoding}" is not supported (use gzip or deflate)`);
  try {
    return await inflater(raw, { maxOutputLength: limits.maxDecompressedBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw tooLarge(limits);
    throw new BadRequest(`the ${encoding} body cannot be decompressed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

export function mediaType(request: FastifyRequest): string {
  return (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
}

export { tooLarge as decompressedTooLarge };
