/**
 * Every shipper protocol proven with a real client library from npm against a listening server and real Redis:
 * the logs come back from the query API with the right timestamp, level, message and fields.
 */
import { Client as ElasticClient } from "@elastic/elasticsearch";
import { SeverityNumber } from "@opentelemetry/api-logs";
import { OTLPLogExporter as OtlpHttpJsonExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPLogExporter as OtlpProtoExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import winston from "winston";
import LokiTransport from "winston-loki";
import type { StoredLogEntry } from "../../server/logs/log-entry.ts";
import { INGEST_KEY, READ_KEY, bearer, startHarness, type Harness } from "./harness.ts";

let h: Harness;
let url: string;

beforeAll(async () => {
  h = await startHarness();
  url = await h.app.listen({ port: 0, host: "127.0.0.1" });
});
afterAll(async () => h?.close());

async function find(query: string): Promise<StoredLogEntry[]> {
  const res = await h.app.inject({ method: "GET", url: `/api/v1/logs?${query}`, headers: bearer(READ_KEY) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().entries;
}

describe("Loki push with winston-loki", () => {
  it.each([
    ["snappy protobuf", false],
    ["JSON", true],
  ])("stores what winston-loki sends as %s", async (_name, json) => {
    const marker = json ? "lokijson" : "lokiproto";
    const errors: Error[] = [];
    const transport = new LokiTransport({
      host: url,
      basicAuth: `tenant:${INGEST_KEY}`,
      labels: { job: `${marker}-job`, env: "test" },
      json,
      // One request per log, so flush() waits for the responses instead of the next batching interval.
      batching: false,
      // Keep the log's own time (by default winston-loki stamps the send time).
      replaceTimestamp: false,
      onConnectionError: (error: unknown) => void errors.push(error as Error),
    });
    // winston-loki falls back to JSON when the snappy binding is missing: make sure the protobuf path is real.
    const batcher = (transport as unknown as { batcher: { contentType: string } }).batcher;
    expect(batcher.contentType).toBe(json ? "application/json" : "application/x-protobuf");
    const logger = winston.createLogger({ level: "debug", transports: [transport] });
    const at = new Date("2026-11-27T08:00:00.123Z");
    logger.error({
      message: `${marker} payment declined`,
      timestamp: at.toISOString(),
      labels: { service_name: "billing" },
    });
    logger.warn({ message: `${marker} retrying`, timestamp: new Date(at.getTime() + 1000).toISOString() });
    logger.end();
    await once(logger, "finish");
    await transport.flush();
    expect(errors).toEqual([]);
    const entries = await find(`q=${marker}`);
    expect(entries.map((e) => [e.level, e.timestamp, e.source])).toEqual([
      ["warn", at.getTime() + 1000, `${marker}-job`],
      ["error", at.getTime(), "billing"],
    ]);
    expect(entries[1]!.message).toContain(`${marker} payment declined`);
    expect(entries[1]!.fields).toMatchObject({ env: "test" });
  });
});

describe("OTLP/HTTP with the OpenTelemetry SDK", () => {
  it.each([
    ["JSON", () => new OtlpHttpJsonExporter({ url: `${url}/v1/logs`, headers: bearer(INGEST_KEY) })],
    ["protobuf", () => new OtlpProtoExporter({ url: `${url}/v1/logs`, headers: bearer(INGEST_KEY) })],
  ])("stores what the %s exporter sends", async (name, exporter) => {
    const marker = `otlp${name.toLowerCase()}`;
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ "service.name": `${marker}-svc`, "deployment.environment": "test" }),
      processors: [new SimpleLogRecordProcessor({ exporter: exporter() })],
    });
    const logger = provider.getLogger("checkout", "1.2.3");
    const at = Date.UTC(2026, 10, 27, 9, 0, 0, 456);
    logger.emit({
      timestamp: at,
      severityNumber: SeverityNumber.ERROR,
      severityText: "ERROR",
      body: `${marker} card expired`,
      attributes: { "http.status_code": 402, "user.id": "u-7", retry: false },
      context: undefined,
    });
    logger.emit({
      timestamp: at + 5,
      severityNumber: SeverityNumber.INFO2,
      body: { message: `${marker} map body`, step: 3 },
    });
    await provider.forceFlush();
    await provider.shutdown();
    const entries = await find(`source=${marker}-svc`);
    expect(entries.map((e) => [e.level, e.timestamp, e.message])).toEqual([
      ["info", at + 5, `${marker} map body`],
      ["error", at, `${marker} card expired`],
    ]);
    expect(entries[1]!.fields).toMatchObject({
      "http.status_code": 402,
      "user.id": "u-7",
      retry: false,
      "deployment.environment": "test",
      "otel.scope.name": "checkout",
    });
    expect(entries[0]!.fields).toMatchObject({ step: 3 });
  });
});

describe("Elasticsearch bulk with @elastic/elasticsearch", () => {
  it("stores documents from client.bulk and reports per-item results", async () => {
    const client = new ElasticClient({ node: url, auth: { bearer: INGEST_KEY } });
    const at = "2026-11-27T10:00:00.789Z";
    const result = await client.bulk({
      operations: [
        { index: { _index: "app-logs" } },
        {
          "@timestamp": at,
          "log.level": "warn",
          message: "esbulk disk 91% full",
          service: { name: "storage" },
        },
        { create: { _index: "app-logs" } },
        { "@timestamp": at, "log.level": "error", message: "esbulk disk full", host: { name: "node-3" } },
        { index: { _index: "app-logs" } },
        { "@timestamp": "not a time", message: "esbulk bad" },
      ],
    });
    expect(result.errors).toBe(true);
    expect(result.items.map((item) => Object.values(item)[0]!.status)).toEqual([201, 201, 400]);
    expect(result.items[2]!.index!.error!.reason).toMatch(/line 6: @timestamp "not a time" is not a time/);
    const entries = await find("q=esbulk");
    expect(entries.map((e) => [e.level, e.timestamp, e.message, e.source])).toEqual([
      ["error", Date.parse(at), "esbulk disk full", "node-3"],
      ["warn", Date.parse(at), "esbulk disk 91% full", "storage"],
    ]);
    expect(entries[0]!.fields["es.index"]).toBe("app-logs");
    const info = await client.info();
    expect(info.version.number).toMatch(/^8\./);
    await client.close();
  });

  it("refuses a wrong key the way the client understands", async () => {
    const client = new ElasticClient({ node: url, auth: { bearer: "wrong-key-0123456789" } });
    await expect(
      client.bulk({ operations: [{ index: { _index: "x" } }, { message: "no" }] }),
    ).rejects.toMatchObject({
      meta: { statusCode: 401 },
    });
    await client.close();
  });
});

describe("Loki push edge cases", () => {
  it("accepts protobuf labelled Content-Encoding: snappy, and reports a bad label set with 400 keeping the rest", async () => {
    const { compress } = (await import("snappyjs")) as unknown as { compress(b: Buffer): Buffer };
    const { LokiPushRequest } = await import("../../server/ingest/wire-schemas.ts");
    const ns = BigInt(Date.UTC(2026, 10, 27, 11, 0, 0, 5)) * 1_000_000n + 7n;
    const push = LokiPushRequest.encode(
      LokiPushRequest.fromObject({
        streams: [
          {
            labels: '{job="edge", level="warn", note="a \\"quoted\\" value"}',
            entries: [
              {
                timestamp: { seconds: String(ns / 1_000_000_000n), nanos: Number(ns % 1_000_000_000n) },
                line: "lokiedge ok",
              },
            ],
          },
          {
            labels: "job=edge",
            entries: [{ timestamp: { seconds: "1", nanos: 0 }, line: "lokiedge bad labels" }],
          },
        ],
      }),
    ).finish();
    const res = await fetch(`${url}/loki/api/v1/push`, {
      method: "POST",
      headers: {
        ...bearer(INGEST_KEY),
        "content-type": "application/x-protobuf",
        "content-encoding": "snappy",
      },
      body: compress(Buffer.from(push)),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(
      /1 of 2 entries rejected.*\nstream 2 entry 1: labels "job=edge" must look like/,
    );
    const [entry] = await find("q=lokiedge");
    expect(entry).toMatchObject({
      level: "warn",
      source: "edge",
      message: "lokiedge ok",
      timestamp: Date.UTC(2026, 10, 27, 11, 0, 0, 5),
      fields: { note: 'a "quoted" value', "timestamp.ns": ns.toString() },
    });
  });
});
