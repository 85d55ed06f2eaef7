/**
 * Loki's WebSocket tail holds the same live-tail slots as the SSE tail (one `TailSlots` per server): a key at its
 * cap is refused by either kind with 429 before the upgrade, a closed WebSocket gives its slot back, and shutdown
 * closes open WebSocket tails (their slots come back too).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { READ_KEY, bearer, startHarness, type Harness } from "../../test/ingest/harness.ts";
import { openStream } from "../../test/support/raw-http.ts";

let h: Harness;
let url: string;

beforeAll(async () => {
  h = await startHarness({ env: { NEURALLOG_MAX_TAIL_CLIENTS_PER_KEY: "2" } });
  url = await h.app.listen({ port: 0, host: "127.0.0.1" });
});
afterAll(async () => h?.close());

async function openTails(): Promise<number> {
  const text = await h.app.neurallog.metrics.text();
  const line = text.split("\n").find((l) => l.startsWith("neurallog_live_tails "));
  return Number(line?.split(" ")[1]);
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Opens a Loki tail: the socket once open, or the HTTP status it was refused with. */
async function lokiTail(): Promise<{ socket: WebSocket; status: number }> {
  const socket = new WebSocket(
    `${url.replace("http", "ws")}/loki/api/v1/tail?query=${encodeURIComponent('{service_name="api"}')}`,
    { headers: bearer(READ_KEY) },
  );
  const status = await new Promise<number>((resolve, reject) => {
    socket.once("open", () => resolve(101));
    socket.once("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0));
    socket.once("error", reject);
  });
  return { socket, status };
}

describe("the Loki tail on the shared live-tail slots", () => {
  it("counts against the key's cap with the SSE tails, and gives its slot back when closed", async () => {
    const first = await lokiTail();
    const sse = await openStream(`${url}/api/v1/logs/stream`, bearer(READ_KEY));
    expect([first.status, sse.status]).toEqual([101, 200]);
    await until(async () => (await openTails()) === 2, "both tails open");

    // At the cap: both kinds are refused by the key's cap before anything is streamed.
    const refusedLoki = await lokiTail();
    const refusedSse = await openStream(`${url}/api/v1/logs/stream`, bearer(READ_KEY));
    expect([refusedLoki.status, refusedSse.status]).toEqual([429, 429]);
    expect(JSON.parse(refusedSse.body).limit).toEqual({
      scope: "key",
      setting: "NEURALLOG_MAX_TAIL_CLIENTS_PER_KEY",
      value: 2,
    });

    first.socket.close();
    await until(async () => (await openTails()) === 1, "the WebSocket tail's slot back");
    const again = await lokiTail();
    expect(again.status).toBe(101);
    again.socket.close();
    sse.close();
    await until(async () => (await openTails()) === 0, "every slot back");
  });

  it("is closed by shutdown, its slot given back", async () => {
    const own = await startHarness({ redisServer: h.redisServer });
    const ownUrl = await own.app.listen({ port: 0, host: "127.0.0.1" });
    const socket = new WebSocket(
      `${ownUrl.replace("http", "ws")}/loki/api/v1/tail?query=${encodeURIComponent('{service_name="api"}')}`,
      { headers: bearer(READ_KEY) },
    );
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
    await own.close();
    expect(await closed).toBeGreaterThanOrEqual(1000);
    expect(own.app.neurallog.tailSlots.open).toBe(0);
  });
});
