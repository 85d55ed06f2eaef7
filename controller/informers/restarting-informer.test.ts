/**
 * The restart behaviour on error paths a real API server does not produce on demand (a 500 on list, a 503 on
 * watch), against client-node's real ListWatch and Watch over loopback HTTP. The end-to-end case (an API server
 * outage) is in controller.cluster.test.ts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { KubeConfig, type V1ConfigMap } from "@kubernetes/client-node";
import { RawApi } from "../kube/raw-api.ts";
import { RestartingInformer } from "./restarting-informer.ts";

const cm = (name: string, resourceVersion: string): V1ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "nl-acme", resourceVersion },
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Answers the informer's list and watch requests from a script, one step per request. */
async function scriptedServer(script: {
  list: ((res: ServerResponse) => void)[];
  watch: ((res: ServerResponse) => void)[];
}) {
  const requests: string[] = [];
  const open = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, "http://x");
    const kind = url.searchParams.get("watch") === "true" ? "watch" : "list";
    requests.push(`${kind}${kind === "watch" ? ` rv=${url.searchParams.get("resourceVersion")}` : ""}`);
    const step = script[kind].shift();
    if (!step) {
      res.writeHead(500).end();
      return;
    }
    open.add(res);
    res.on("close", () => open.delete(res));
    step(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    for (const res of open) res.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: "c",
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return { kc, requests };
}

const status = (code: number) => (res: ServerResponse) =>
  res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify({ kind: "Status", code }));
const list = (items: V1ConfigMap[], resourceVersion: string) => (res: ServerResponse) =>
  res
    .writeHead(200, { "content-type": "application/json" })
    .end(JSON.stringify({ apiVersion: "v1", kind: "ConfigMapList", metadata: { resourceVersion }, items }));
const stream = (events: { type: string; object: unknown }[]) => (res: ServerResponse) => {
  res.writeHead(200, { "content-type": "application/json" });
  for (const event of events) res.write(`${JSON.stringify(event)}\n`);
  // Left open, like a real watch.
};

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe("RestartingInformer", () => {
  it("restarts after failed lists and a failed watch, and resumes from its resourceVersion", async () => {
    const { kc, requests } = await scriptedServer({
      list: [status(500), status(500), list([cm("a", "5")], "5")],
      watch: [status(503), stream([{ type: "ADDED", object: cm("b", "6") }])],
    });
    const changed: string[] = [];
    const errors: number[] = [];
    const informer = new RestartingInformer<V1ConfigMap>(kc, {
      resource: "configmaps",
      path: "/api/v1/configmaps",
      list: new RawApi(kc).lister("/api/v1/configmaps"),
      backoff: { baseMs: 5, maxMs: 20 },
      onChange: (o) => changed.push(o.metadata!.name!),
      onError: (_resource, _error, restartInMs) => errors.push(restartInMs),
    });
    cleanups.push(() => informer.stop());
    await informer.start();
    await until(() => changed.includes("b"));
    expect(changed).toEqual(["a", "b"]);
    expect(informer.list("nl-acme").map((o) => o.metadata!.name)).toEqual(["a", "b"]);
    expect(informer.synced).toBe(true);
    expect(requests).toEqual(["list", "list", "list", "watch rv=5", "watch rv=5"]);
    // Three failures in a row: the delay doubled each time (5, 10, 20).
    expect(errors).toEqual([5, 10, 20]);
    expect(informer.restarts).toBe(3);
  });

  it("keeps its cache while the API server is unreachable and stops retrying once stopped", async () => {
    const { kc, requests } = await scriptedServer({
      list: [list([cm("a", "5")], "5")],
      watch: [status(500)],
    });
    const informer = new RestartingInformer<V1ConfigMap>(kc, {
      resource: "configmaps",
      path: "/api/v1/configmaps",
      list: new RawApi(kc).lister("/api/v1/configmaps"),
      backoff: { baseMs: 5, maxMs: 10 },
      onChange: () => undefined,
    });
    await informer.start();
    await until(() => requests.length >= 4);
    expect(informer.get("a", "nl-acme")?.metadata?.resourceVersion).toBe("5");
    await informer.stop();
    const seen = requests.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(requests.length).toBe(seen);
  });
});
