/**
 * `/metrics`, `/healthz`, `/status` on node:http: three read-only routes do not need a framework.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface StatusSource {
  /** The JSON for /status. */
  status(): unknown;
  /** Liveness details for /healthz; `ok: false` answers 503. */
  health(): { ok: boolean } & Record<string, unknown>;
}

export interface StatusServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startStatusServer(
  port: number,
  host: string,
  registry: Registry,
  source: StatusSource,
): Promise<StatusServer> {
  const server: Server = createServer((request, response) => {
    const send = (code: number, contentType: string, body: string) => {
      response.writeHead(code, { "content-type": contentType, "cache-control": "no-store" });
      response.end(body);
    };
    const json = (code: number, body: unknown) =>
      send(code, "application/json; charset=utf-8", `${JSON.stringify(body, null, 2)}\n`);
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.setHeader("allow", "GET, HEAD");
      json(405, { error: `method ${request.method} not allowed` });
      return;
    }
    // Node's HTTP parser passes absolute-form targets such as `http://[` through unchecked; `new URL` would throw
    // on them inside this listener, an uncaught exception that ends the process. URL.parse answers null instead.
    const path = URL.parse(request.url ?? "/", "http://controller")?.pathname;
    if (path === undefined) {
      json(400, { error: "malformed request target" });
      return;
    }
    if (path === "/metrics") {
      registry.metrics().then(
        (text) => send(200, registry.contentType, text),
        (error: unknown) => json(500, { error: "metrics collection failed", detail: String(error) }),
      );
    } else if (path === "/healthz") {
      const health = source.health();
      json(health.ok ? 200 : 503, health);
    } else if (path === "/status") {
      json(200, source.status());
    } else {
      json(404, { error: `no route ${path}; try /metrics, /healthz or /status` });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) => reject(new Error(`listening on ${host}:${port}`, { cause: error })));
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
