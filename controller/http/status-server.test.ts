import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Registry, Gauge } from "prom-client";
import { startStatusServer, type StatusServer } from "./status-server.ts";

let server: StatusServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Sends one raw request over TCP, the way a scanner would (fetch refuses to send such targets), and reads
 *  the whole answer; `connection: close` makes the server end the socket once it has answered. */
function rawRequest(port: number, requestLine: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (answer += chunk));
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
    socket.write(`${requestLine}\r\nhost: controller\r\nconnection: close\r\n\r\n`);
  });
}

async function start(health: { ok: boolean }) {
  const registry = new Registry();
  new Gauge({ name: "neurallog_leader", help: "leader", registers: [registry] }).set(1);
  server = await startStatusServer(0, "127.0.0.1", registry, {
    status: () => ({ identity: "a", tenants: [{ tenant: "acme" }] }),
    health: () => ({ ...health, identity: "a" }),
  });
  return (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${server!.port}${path}`, init);
}

describe("status server", () => {
  it("serves Prometheus metrics, the status JSON and health", async () => {
    const get = await start({ ok: true });
    const metrics = await get("/metrics");
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await metrics.text()).toMatch(/^neurallog_leader 1$/m);
    expect(await (await get("/status")).json()).toEqual({ identity: "a", tenants: [{ tenant: "acme" }] });
    const health = await get("/healthz");
    expect([health.status, await health.json()]).toEqual([200, { ok: true, identity: "a" }]);
  });

  it("answers 503 on /healthz when the controller is not healthy", async () => {
    const get = await start({ ok: false });
    expect((await get("/healthz")).status).toBe(503);
  });

  it("refuses unknown paths and methods with a JSON error, never a crash", async () => {
    const get = await start({ ok: true });
    const missing = await get("/nope?x=1");
    expect([missing.status, await missing.json()]).toEqual([
      404,
      { error: "no route /nope; try /metrics, /healthz or /status" },
    ]);
    const post = await get("/status", { method: "POST", body: "{}" });
    expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
    expect((await get("/healthz")).status).toBe(200);
  });

  it("answers 400 to a request target that is no URL, and keeps serving", async () => {
    const get = await start({ ok: true });
    for (const target of ["http://[", "http://a:99999/", "//["]) {
      const answer = await rawRequest(server!.port, `GET ${target} HTTP/1.1`);
      expect(answer.split("\r\n")[0]).toBe("HTTP/1.1 400 Bad Request");
      expect(answer.slice(answer.indexOf("\r\n\r\n") + 4)).toContain('"error": "malformed request target"');
    }
    const health = await get("/healthz");
    expect([health.status, await health.json()]).toEqual([200, { ok: true, identity: "a" }]);
  });
});
