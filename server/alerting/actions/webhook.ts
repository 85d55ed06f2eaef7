/**
 * Webhook delivery: a JSON POST signed with HMAC-SHA256, a timeout per attempt, retries with exponential backoff
 * and full jitter. Every attempt is reported to the caller (the delivery log).
 */
import { createHmac } from "node:crypto";
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import {
  parseAddress,
  refusedReason,
  type AllowedCidr,
} from "../../../contracts/network/internal-address.ts";

export const SIGNATURE_HEADER = "x-neurallog-signature";

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp inside the MAC lets a receiver reject
 * replays older than its tolerance.
 */
export function signature(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}

export interface DeliveryAttempt {
  readonly attempt: number;
  readonly ok: boolean;
  readonly status?: number;
  readonly error?: string;
  readonly durationMs: number;
}

export interface WebhookRequest {
  readonly url: string;
  readonly body: string;
  readonly secret?: string;
  /** Sent as `X-NeuralLog-Delivery`, the same on every retry, so receivers can drop duplicates. */
  readonly deliveryId: string;
  readonly event: string;
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  /** First retry delay before jitter; doubles per attempt, capped at `maxBackoffMs`. */
  readonly baseBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly onAttempt?: (attempt: DeliveryAttempt) => void | Promise<void>;
  readonly signal?: AbortSignal;
  /** Internal ranges this tenant allowed (`server.webhooks.allowInternal`); everything else inside is refused. */
  readonly allowInternal?: readonly AllowedCidr[];
}

/** A target refused by the egress guard; its message is safe to show (it says nothing about the target's ports). */
export class WebhookTargetRefused extends Error {
  override readonly name = "WebhookTargetRefused";
}

/**
 * What the delivery log keeps of a failed exchange. Connect errors (ECONNREFUSED vs a timeout vs EHOSTUNREACH)
 * would tell a read-key holder which ports are open behind a URL, so every failure without an HTTP response reads
 * the same.
 */
export const GENERIC_DELIVERY_ERROR = "delivery failed: no HTTP response";

/**
 * A DNS lookup that refuses internal addresses. The agent calls it for every connection, so the address judged is
 * the address connected to: a name that resolves to a public address when the rule is created and to 127.0.0.1
 * later (DNS rebinding) is refused on the attempt that would connect there. Any internal address among the
 * answers refuses the name, so a mixed answer cannot be raced.
 */
function guardedLookup(allowInternal: readonly AllowedCidr[]) {
  return (
    hostname: string,
    options: LookupOptions,
    callback: (
      error: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void,
  ): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      for (const a of addresses) {
        const parsed = parseAddress(a.address);
        const reason = parsed ? refusedReason(parsed, allowInternal) : "not an IP address";
        if (reason)
          return callback(new WebhookTargetRefused(`refused: ${hostname} resolves to ${reason}`), []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first)
        return callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), []);
      callback(null, first.address, first.family);
    });
  };
}

/** Why `url`'s host is refused when it is an address literal (`0x7f000001` and `[::ffff:127.0.0.1]` included). */
export function literalTargetRefused(url: string, allowInternal: readonly AllowedCidr[]): string | undefined {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return "not a valid URL";
  }
  const literal = parseAddress(host);
  const reason = literal && refusedReason(literal, allowInternal);
  return reason ? `${host} is ${reason}` : undefined;
}

/**
 * One POST with a hard deadline for the whole exchange. Plain node:http without keep-alive: on timeout or abort
 * the socket is destroyed, so a target that accepts connections and never answers cannot pile up open sockets
 * while its deliveries are retried.
 */
function post(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  allowInternal: readonly AllowedCidr[],
): Promise<number> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    // Literal hosts never reach the lookup (net connects to them directly), so they are judged here.
    const refused = literalTargetRefused(url, allowInternal);
    if (refused) return reject(new WebhookTargetRefused(`refused: ${refused}`));
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(target, {
      method: "POST",
      agent: false,
      lookup: guardedLookup(allowInternal),
      headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
    });
    const fail = (error: Error) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      req.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => fail(new Error("delivery aborted: the server is shutting down"));
    signal?.addEventListener("abort", onAbort, { once: true });
    req.once("error", (error) => fail(error));
    req.once("response", (res) => {
      // Drain the body so the exchange completes; its content is not ours to keep.
      res.resume();
      res.once("end", () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        req.destroy();
        resolve(res.statusCode ?? 0);
      });
      res.once("error", (error) => fail(error));
    });
    req.end(body);
  });
}

/** Retrying makes sense for timeouts, network errors, 408, 429 and 5xx; other 4xx mean the request is wrong. */
function retryable(status: number | undefined): boolean {
  return status === undefined || status === 408 || status === 429 || status >= 500;
}

function refusedAttempt(a: DeliveryAttempt): boolean {
  return a.error?.startsWith("refused: ") ?? false;
}

export function backoffMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  // Full jitter: replicas retrying the same dead endpoint spread out instead of hitting it in lockstep.
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export async function deliverWebhook(request: WebhookRequest): Promise<DeliveryAttempt[]> {
  const attempts: DeliveryAttempt[] = [];
  for (let attempt = 1; attempt <= request.maxAttempts; attempt++) {
    const started = performance.now();
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "neurallog-webhook/1",
      "x-neurallog-delivery": request.deliveryId,
      "x-neurallog-event": request.event,
      "x-neurallog-attempt": String(attempt),
    };
    if (request.secret)
      headers[SIGNATURE_HEADER] = signature(request.secret, request.body, Math.floor(Date.now() / 1000));
    let result: DeliveryAttempt;
    try {
      const status = await post(
        request.url,
        headers,
        request.body,
        request.timeoutMs,
        request.signal,
        request.allowInternal ?? [],
      );
      const ok = status >= 200 && status < 300;
      result = { attempt, ok, status, durationMs: Math.round(performance.now() - started) };
      if (!ok) result = { ...result, error: `HTTP ${status}` };
    } catch (error) {
      const shown =
        error instanceof WebhookTargetRefused || request.signal?.aborted
          ? (error as Error).message
          : GENERIC_DELIVERY_ERROR;
      result = {
        attempt,
        ok: false,
        error: shown,
        durationMs: Math.round(performance.now() - started),
      };
    }
    attempts.push(result);
    await request.onAttempt?.(result);
    // A refused target stays refused: retrying would only repeat the lookup.
    if (result.ok || !retryable(result.status) || request.signal?.aborted || refusedAttempt(result)) break;
    if (attempt < request.maxAttempts) {
      await sleep(backoffMs(attempt, request.baseBackoffMs, request.maxBackoffMs), undefined, {
        signal: request.signal,
      }).catch(() => undefined);
    }
  }
  return attempts;
}
