/**
 * The server's coded errors (one constructor per kind, `@fastify/error`). The app's single error handler turns
 * them into `{ statusCode, code, error, message }`; their messages are written for the client to read.
 */
import createError from "@fastify/error";

/** `%s` is the reason, written so a client can fix the request. */
export const BadRequest = createError("NL_BAD_REQUEST", "%s", 400);
export const PayloadTooLarge = createError("NL_PAYLOAD_TOO_LARGE", "%s", 413);
export const UnsupportedMediaType = createError("NL_UNSUPPORTED_MEDIA_TYPE", "%s", 415);
export const Unauthorized = createError("NL_UNAUTHORIZED", "%s", 401);
export const Forbidden = createError("NL_FORBIDDEN", "%s", 403);
/** Carries `retryAfterSeconds` for the `Retry-After` header. */
export const TooManyRequests = createError<"NL_RATE_LIMITED", 429, [string, number]>(
  "NL_RATE_LIMITED",
  "%s (retry after %d s)",
  429,
);
export const ServiceUnavailable = createError("NL_UNAVAILABLE", "%s", 503);
/** A live-tail cap reached: the server's (503) or the API key's (429); the body names which (`limit`). */
export const ServerTailLimit = createError("NL_TAIL_LIMIT", "%s", 503);
export const KeyTailLimit = createError("NL_TAIL_LIMIT", "%s", 429);

/** The limit a refused request met, written into the error body as `limit` so a client can tell which one. */
export interface LimitReached {
  /** Whose limit: the server's or the API key's. */
  readonly scope: "server" | "key";
  /** The setting that holds it. */
  readonly setting: string;
  readonly value: number;
}

export function withLimit<E extends Error>(
  error: E,
  limit: LimitReached,
): E & { readonly limit: LimitReached } {
  return Object.assign(error, { limit });
}
