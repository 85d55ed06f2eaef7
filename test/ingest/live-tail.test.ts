/** Live tail over a real socket: events arrive as they are stored, filtered, and resume from Last-Event-ID. */
import { request, type IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INGEST_KEY, READ_KEY, bearer, ndjson, startHarness, type Harness } from "./harness.ts";

let h: Harness;
let url: string;

beforeAll(async () => {
  h = await startHarness();
  url = await h.app.listen({ port: 0, host: "127.0.0.1" });
});
afterAll(async () => h?.close());

interface SseEvent {
  id: string;
  event: string;
  data: { id: string; message: string; level: string };
}

/** Opens the stream and collects events; `next(n)` waits (bounded) for n events in total. */
async function tail(query: string, headers: Record<string, string> = {}) {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(
      `${url}/api/v1/logs/stream?${query}`,
      { headers: { ...bearer(READ_KEY), ...headers } },
      resolve,
    );
    req.once("error", reject);
    req.end();
  });
  const events: SseEvent[] = [];
  let buffer = "";
  let wake: (() => void) | undefined;
  let opened = false;
  response.setEncoding("utf8");
  response.on("data", (chunk: string) => {
    buffer += chunk;
    opened = true;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(
        block
          .split("\n")
          .filter((l) => !l.startsWith(":") && l.includes(":"))
          .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
      );
      if (fields.event === "log")
        events.push({ id: fields.id!, event: fields.event, data: JSON.parse(fields.data!) });
    }
    wake?.();
  });
  const waitFor = async (check: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  };
  await waitFor(() => opened, "the stream to open");
  return {
    response,
    events,
    next: (n: number) => waitFor(() => events.length >= n, `${n} events`),
    close: () => response.destroy(),
  };
}

async function ingest(records: unknown[]): Promise<void> {
  const res = await h.app.inject({
    method: "POST",
    url: "/api/v1/logs",
    headers: bearer(INGEST_KEY),
    body: ndjson(records),
  });
  expect(res.statusCode, res.body).toBe(200);
}

describe("live tail", () => {
  it("streams new logs matching the filter, with their ids", async () => {
    await ingest([{ msg: "before the tail", level: "error" }]);
    const stream = await tail("level=warn");
    expect(stream.response.headers["content-type"]).toMatch(/text\/event-stream/);
    await ingest([
      { msg: "tail one", level: "error" },
      { msg: "tail quiet", level: "info" },
      { msg: "tail two", level: "warn" },
    ]);
    await stream.next(2);
    expect(stream.events.map((e) => e.data.message)).toEqual(["tail one", "tail two"]);
    expect(stream.events.every((e) => e.id === e.data.id)).toBe(true);
    stream.close();
  });

  it("resumes after Last-Event-ID with nothing lost or repeated", async () => {
    const first = await tail("q=resume");
    await ingest([{ msg: "resume a" }, { msg: "resume b" }]);
    await first.next(2);
    const lastSeen = first.events[1]!.id;
    first.close();
    await ingest([{ msg: "resume c" }, { msg: "other" }, { msg: "resume d" }]);
    const second = await tail("q=resume", { "last-event-id": lastSeen });
    await second.next(2);
    expect(second.events.map((e) => e.data.message)).toEqual(["resume c", "resume d"]);
    second.close();
  });

  it("refuses a malformed Last-Event-ID", async () => {
    const res = await h.app.inject({
      method: "GET",
      url: "/api/v1/logs/stream",
      headers: { ...bearer(READ_KEY), "last-event-id": "yesterday" },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/Last-Event-ID must be a log id/);
  });
});
