/**
 * Request authentication for every protected route: `Authorization: Bearer KEY`, `Basic` with the key as password
 * (what Loki and Elasticsearch shippers send), or `ApiKey KEY`. `requireScope(scope)` is the preHandler routes use
 * (rules and MCP reuse it for `read` / `admin`): 401 with `WWW-Authenticate` when no valid key, 403 when the key
 * lacks the scope, 429 with `Retry-After` when the key's rate limit is spent.
 */
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import { Forbidden, TooManyRequests, Unauthorized } from "../errors.ts";
import { findKey, type ApiKeyRecord, type ApiPrincipal, type Scope } from "./api-keys.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** Set by `requireScope` once the key is verified. */
    principal?: ApiPrincipal;
  }
}

export const WWW_AUTHENTICATE = 'Bearer realm="neurallog", Basic realm="neurallog"';

export interface Authenticator {
  /** The principal for an `Authorization` header value, or undefined when it holds no valid key. */
  resolve(header: string | undefined): ApiKeyRecord | undefined;
  /** preHandler: authenticates, checks the scope and the key's rate limit, sets `request.principal`. */
  requireScope(scope: Scope): preHandlerAsyncHookHandler;
}

function presentedKey(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const space = header.indexOf(" ");
  if (space < 0) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === "bearer" || scheme === "apikey") return value || undefined;
  if (scheme === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return decoded || undefined;
    // The key is the password; a client that can only set a user name may send it there.
    return decoded.slice(colon + 1) || decoded.slice(0, colon) || undefined;
  }
  return undefined;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export function createAuthenticator(
  keys: readonly ApiKeyRecord[],
  now: () => number = Date.now,
): Authenticator {
  const buckets = new Map<string, Bucket>();

  /** Seconds until a token is available, or 0 when one was taken. */
  const takeToken = (key: ApiKeyRecord): number => {
    const limit = key.rateLimit;
    if (!limit) return 0;
    const t = now();
    const bucket = buckets.get(key.name) ?? { tokens: limit.burst, updatedMs: t };
    bucket.tokens = Math.min(
      limit.burst,
      bucket.tokens + ((t - bucket.updatedMs) / 1000) * limit.requestsPerSecond,
    );
    bucket.updatedMs = t;
    buckets.set(key.name, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / limit.requestsPerSecond));
  };

  const resolve = (header: string | undefined): ApiKeyRecord | undefined => {
    const presented = presentedKey(header);
    return presented === undefined ? undefined : findKey(keys, presented);
  };

  return {
    resolve,
    requireScope(scope) {
      return async (request: FastifyRequest, reply: FastifyReply) => {
        const key = resolve(request.headers.authorization);
        if (!key) {
          reply.header("www-authenticate", WWW_AUTHENTICATE);
          throw new Unauthorized(
            request.headers.authorization
              ? "the API key is not valid"
              : "an API key is required (Authorization: Bearer KEY)",
          );
        }
        request.principal = { name: key.name, scopes: key.scopes };
        if (!key.scopes.has(scope) && !key.scopes.has("admin")) {
          throw new Forbidden(`the API key "${key.name}" lacks the "${scope}" scope`);
        }
        const wait = takeToken(key);
        if (wait > 0) {
          reply.header("retry-after", String(wait));
          throw new TooManyRequests(`rate limit of the API key "${key.name}" exceeded`, wait);
        }
      };
    },
  };
}
