/**
 * Every request of an MCP JSON-RPC batch counts against the API key's rate limit, like a request of its own
 * (batches exist in the 2025-03-26 revision, up to the SDK's 100 messages; later revisions dropped them).
 * The authenticator paid for the first request when it let the HTTP request in; each further one takes a token,
 * in batch order, while there are tokens. A request that finds none is not run: it is answered with a JSON-RPC
 * error of its own, beside the answers of the requests that ran, so a client matching answers by id sees which
 * calls to retry and when. Refusing the whole batch with HTTP 429 instead would throw away the calls that fit,
 * and the TypeScript SDK client surfaces an HTTP 429 as a generic transport error for every call in the request.
 * Notifications get no answer and cost nothing. When not even the first request fits, the HTTP request is a 429
 * before its body is read (authenticator.ts).
 *
 * The error code is 429 (mirroring HTTP): the MCP spec reserves -32020..-32099 for codes it defines (it defines
 * none for rate limits) and asks implementations to allocate their own outside JSON-RPC's -32768..-32000.
 */
import type { CallsAdmitted } from "../auth/authenticator.ts";
import { rateLimitMessage } from "../auth/authenticator.ts";

/** JSON-RPC error code of a batch request refused by the key's rate limit. */
export const RATE_LIMITED_CODE = 429;
/** The SDK refuses larger batches whole (400) before running any of them: nothing to meter. */
const SDK_MAX_BATCH = 100;

interface JsonRpcError {
  readonly jsonrpc: "2.0";
  readonly id: string | number;
  readonly error: {
    readonly code: number;
    readonly message: string;
    readonly data: { retryAfterSeconds: number };
  };
}

export interface MeteredBatch {
  /** What the SDK gets: the batch without the refused requests (or the body as it came). */
  readonly body: unknown;
  /** The answers of the refused requests. */
  readonly refused: readonly JsonRpcError[];
}

/** A JSON-RPC request (it has a method and an id, so it gets an answer), not a notification or a response. */
function isRequest(message: unknown): message is { readonly id: string | number; readonly method: string } {
  if (typeof message !== "object" || message === null) return false;
  const { id, method } = message as { id?: unknown; method?: unknown };
  return typeof method === "string" && (typeof id === "string" || typeof id === "number");
}

/** Splits a batch into the requests the key's rate limit admits (`admit`) and the answers of the others. */
export function meterBatch(
  body: unknown,
  keyName: string,
  admit: (calls: number) => CallsAdmitted,
): MeteredBatch {
  if (!Array.isArray(body) || body.length > SDK_MAX_BATCH) return { body, refused: [] };
  const requests = body.filter(isRequest).length;
  if (requests <= 1) return { body, refused: [] };
  const { admitted, retryAfter } = admit(requests);
  if (admitted >= requests) return { body, refused: [] };
  const kept: unknown[] = [];
  const refused: JsonRpcError[] = [];
  let seen = 0;
  for (const message of body) {
    if (isRequest(message) && ++seen > admitted) {
      refused.push({
        jsonrpc: "2.0",
        id: message.id,
        error: {
          code: RATE_LIMITED_CODE,
          message: `${rateLimitMessage(keyName)} (retry after ${retryAfter} s)`,
          data: { retryAfterSeconds: retryAfter },
        },
      });
    } else kept.push(message);
  }
  return { body: kept, refused };
}

/**
 * The SDK's answer to the requests that ran, with the refused requests' answers added: as events ahead of its
 * Server-Sent Events, or into its JSON array. Any other answer (the SDK refused the batch whole) stays as it is.
 */
export async function withRefusals(response: Response, refused: readonly JsonRpcError[]): Promise<Response> {
  if (refused.length === 0 || response.status !== 200 || response.body === null) return response;
  const type = response.headers.get("content-type") ?? "";
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  if (type.startsWith("text/event-stream")) {
    const events = refused.map((answer) => `event: message\ndata: ${JSON.stringify(answer)}\n\n`).join("");
    const answers = response.body;
    // Cancelling this stream (the client left) cancels the SDK's through `yield*`.
    const body = ReadableStream.from(
      (async function* () {
        yield new TextEncoder().encode(events);
        yield* answers;
      })(),
    );
    return new Response(body, { status: response.status, headers });
  }
  if (type.startsWith("application/json")) {
    const answers: unknown = await response.json();
    return Response.json([answers, ...refused].flat(), { status: response.status, headers });
  }
  return response;
}
