/**
 * Request authentication for every protected route: `Authorization: Bearer KEY`, `Basic` with the key as password
 * (what Loki and Elasticsearch shippers send), or `ApiKey KEY`. `requireScope(scope)` is the `onRequest` hook
 * routes use (rules and MCP reuse it for `read` / `admin`). It runs before Fastify reads the body, so a request
 * without a valid key never costs the server its body: 401 with `WWW-Authenticate` when no valid key, 403 when
 * the key lacks the scope, 429 with `Retry-After` when the key's rate limit is spent or the client address failed
 * authentication too often (failed-auth-limiter.ts). A refused request that carries a body gets
 * `Connection: close`, so the server stops reading instead of draining the unread body.
 */
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { Forbidden, TooManyRequests, Unauthorized } from "../errors.ts";
import { findKey, type ApiKeyRecord, type ApiPrincipal, type Scope } from "./api-keys.ts";
import { FailedAuthLimiter } from "./failed-auth-limiter.ts";
import { TokenBucket, type RateLimit } from "./token-bucket.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** Set by `requireScope` once the key is verified. */
    principal?: ApiPrincipal;
  }
}

export const WWW_AUTHENTICATE = 'Bearer realm="neurallog", Basic realm="neurallog"';

export interface AuthenticatorOptions {
  readonly apiKeys: readonly ApiKeyRecord[];
  /** Failed authentications per client address: burst, then the refill rate. */
  readonly authFailureLimit: RateLimit;
}

export interface Authenticator {
  /** onRequest hook: authenticates, checks the scope and the key's rate limit, sets `request.principal`. */
  requireScope(scope: Scope): onRequestAsyncHookHandler;
  /**
   * For a request that carries `calls` calls (an MCP JSON-RPC batch): each call counts against the key's rate
   * limit like a request of its own. `requireScope` paid for the first; this takes a token for each further
   * call, in order, while there are tokens. Returns how many calls may run (the first `admitted`, at least 1)
   * and, when not all, the seconds until the next token (`retryAfter`, else 0).
   */
  admitCalls(request: FastifyRequest, calls: number): CallsAdmitted;
}

export interface CallsAdmitted {
  readonly admitted: number;
  readonly retryAfter: number;
}

/** What a call over the key's rate limit is told, as an HTTP 429 or as the JSON-RPC error of one batch call. */
export function rateLimitMessage(keyName: string): string {
  return `rate limit of the API key "${keyName}" exceeded`;
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

/** A body is on its way (or announced): refusing it must not mean reading it. */
function hasBody(request: FastifyRequest): boolean {
  const length = request.headers["content-length"];
  return (length !== undefined && length !== "0") || request.headers["transfer-encoding"] !== undefined;
}

function refuse(request: FastifyRequest, reply: FastifyReply, retryAfter?: number): void {
  if (hasBody(request)) reply.header("connection", "close");
  if (retryAfter !== undefined) reply.header("retry-after", String(retryAfter));
}

export function createAuthenticator(
  options: AuthenticatorOptions,
  now: () => number = Date.now,
): Authenticator {
  const { apiKeys } = options;
  const keyBuckets = new Map<string, TokenBucket>();
  for (const key of apiKeys) if (key.rateLimit) keyBuckets.set(key.name, new TokenBucket(key.rateLimit, now));
  const failures = new FailedAuthLimiter(options.authFailureLimit, now);

  /** Takes a token of the key's rate limit, or throws 429 with the wait. */
  const spend = (request: FastifyRequest, reply: FastifyReply, name: string): void => {
    const wait = keyBuckets.get(name)?.take(1) ?? 0;
    if (wait === 0) return;
    refuse(request, reply, wait);
    throw new TooManyRequests(rateLimitMessage(name), wait);
  };

  /** The key of the request, or a 401/429 thrown; the address limiter sees every outcome. */
  const authenticate = (request: FastifyRequest, reply: FastifyReply): ApiKeyRecord => {
    const header = request.headers.authorization;
    const presented = presentedKey(header);
    const key = presented === undefined ? undefined : findKey(apiKeys, presented);
    if (key && failures.knows(request.ip, key.name)) return key;
    const locked = failures.lockedOut(request.ip);
    if (locked > 0) {
      refuse(request, reply, locked);
      throw new TooManyRequests("too many failed authentications from this address", locked);
    }
    if (key) {
      failures.succeeded(request.ip, key.name);
      return key;
    }
    failures.failed(request.ip);
    refuse(request, reply);
    reply.header("www-authenticate", WWW_AUTHENTICATE);
    throw new Unauthorized(
      header ? "the API key is not valid" : "an API key is required (Authorization: Bearer KEY)",
    );
  };

  return {
    requireScope(scope) {
      return async (request, reply) => {
        const key = authenticate(request, reply);
        request.principal = { name: key.name, scopes: key.scopes };
        if (!key.scopes.has(scope) && !key.scopes.has("admin")) {
          refuse(request, reply);
          throw new Forbidden(`the API key "${key.name}" lacks the "${scope}" scope`);
        }
        spend(request, reply, key.name);
      };
    },
    admitCalls(request, calls) {
      const bucket = keyBuckets.get(request.principal!.name);
      if (!bucket) return { admitted: calls, retryAfter: 0 };
      // requireScope paid for the first call.
      for (let admitted = 1; admitted < calls; admitted++) {
        const wait = bucket.take(1);
        if (wait > 0) return { admitted, retryAfter: wait };
      }
      return { admitted: calls, retryAfter: 0 };
    },
  };
}
