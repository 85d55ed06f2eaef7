/**
 * HTTP clients for attack tests, where fetch hides what matters: a request whose body is only partly sent (to see
 * whether the server answers before reading it), and requests from a chosen loopback source address (to see
 * per-address limits). Every wait is bounded.
 */
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect } from "node:net";
import { REQUEST_TIMEOUT_MS, within } from "./server-process.ts";

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * Sends the head of a request announcing `declaredBytes` of body (Content-Length, or chunked when undefined), then
 * only `sentBytes` of it, and waits for the answer and for the server to close the connection (so it does not
 * go on reading the rest). A server that reads the whole body before answering never answers: a timeout here.
 */
export async function sendPartialBody(
  url: string,
  options: {
    readonly method?: string;
    readonly path: string;
    readonly headers: Readonly<Record<string, string>>;
    readonly declaredBytes?: number;
    readonly sentBytes: number;
  },
): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on("error", () => undefined); // a reset after the answer is the server closing; judged below
  const chunked = options.declaredBytes === undefined;
  const head = [
    `${options.method ?? "POST"} ${options.path} HTTP/1.1`,
    `host: ${hostname}:${port}`,
    ...Object.entries(options.headers).map(([name, value]) => `${name}: ${value}`),
    chunked ? "transfer-encoding: chunked" : `content-length: ${options.declaredBytes}`,
    "",
    "",
  ].join("\r\n");
  const part = Buffer.alloc(options.sentBytes, "x");
  socket.write(head);
  socket.write(
    chunked
      ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from("\r\n")])
      : part,
  );

  let received = "";
  socket.setEncoding("latin1");
  socket.on("data", (chunk: string) => (received += chunk));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  try {
    await within(closed, REQUEST_TIMEOUT_MS, `the answer to ${options.path} before its body was sent`);
  } finally {
    socket.destroy();
  }
  return parseResponse(received);
}

function parseResponse(text: string): RawResponse {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) throw new Error(`no complete HTTP answer, got: ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine = "", ...lines] = text.slice(0, end).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body: text.slice(end + 4) };
}

/** One request on a connection of its own, optionally from a given local address (e.g. 127.0.0.2). */
export function sendRequest(
  url: string,
  options: {
    readonly method?: string;
    readonly headers?: Readonly<Record<string, string>>;
    readonly body?: string;
    readonly localAddress?: string;
  } = {},
): Promise<RawResponse> {
  return within(
    new Promise<RawResponse>((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: options.method ?? "GET",
          headers: options.headers,
          agent: false,
          ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (body += chunk));
          res.once("end", () => resolve({ status: res.statusCode ?? 0, headers: flat(res.headers), body }));
          res.once("error", reject);
        },
      );
      req.once("error", reject);
      req.end(options.body);
    }),
    REQUEST_TIMEOUT_MS,
    `${options.method ?? "GET"} ${url}`,
  );
}

function flat(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]),
  );
}

/** A long-lived response (Server-Sent Events) on a connection of its own. */
export interface OpenStream extends RawResponse {
  /** Resolves when the server ended the response or the connection closed (bounded by the caller's waits). */
  readonly ended: Promise<void>;
  /** Drops the connection, as a client that goes away does. */
  close(): void;
}

/**
 * A GET on a connection of its own that resolves at the response head: a 200 stays open (its body is not read
 * into `body`; `ended` tells when the server ends it), any other answer resolves once its body is read.
 */
export function openStream(url: string, headers: Readonly<Record<string, string>>): Promise<OpenStream> {
  return within(
    new Promise<OpenStream>((resolve, reject) => {
      const req = httpRequest(url, { headers, agent: false }, (res) => {
        const ended = new Promise<void>((done) => {
          res.once("end", done);
          res.once("close", done);
          res.once("error", () => done());
        });
        const stream = (body: string): OpenStream => ({
          status: res.statusCode ?? 0,
          headers: flat(res.headers),
          body,
          ended,
          close: () => req.destroy(),
        });
        if (res.statusCode === 200) {
          res.resume();
          resolve(stream(""));
          return;
        }
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.once("end", () => resolve(stream(body)));
      });
      // A reset after the answer is the test dropping the connection.
      req.on("error", reject);
      req.end();
    }),
    REQUEST_TIMEOUT_MS,
    `GET ${url}`,
  );
}
