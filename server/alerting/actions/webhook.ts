/**
 * Webhook delivery: a JSON POST signed with HMAC-SHA256, a timeout per attempt, retries with exponential backoff
 * and full jitter. Every attempt is reported to the caller (the delivery log).
 */
import { createHmac } from "node:crypto";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";

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
): Promise<number> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(target, {
      method: "POST",
      agent: false,
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
      const status = await post(request.url, headers, request.body, request.timeoutMs, request.signal);
      const ok = status >= 200 && status < 300;
      result = { attempt, ok, status, durationMs: Math.round(performance.now() - started) };
      if (!ok) result = { ...result, error: `HTTP ${status}` };
    } catch (error) {
      result = {
        attempt,
        ok: false,
        error: (error as Error).message,
        durationMs: Math.round(performance.now() - started),
      };
    }
    attempts.push(result);
    await request.onAttempt?.(result);
    if (result.ok || !retryable(result.status) || request.signal?.aborted) break;
    if (attempt < request.maxAttempts) {
      await sleep(backoffMs(attempt, request.baseBackoffMs, request.maxBackoffMs), undefined, {
        signal: request.signal,
      }).catch(() => undefined);
    }
  }
  return attempts;
}
