/** The body scans count what the decoders would build, strings and escapes included, and stop at the limits. */
import { describe, expect, it } from "vitest";
import { chargeJson, chargeProtobuf } from "./body-shape.ts";
import { CONTAINER_COST, IngestMemory } from "./ingest-memory.ts";
import { OtlpExportLogsRequest, OtlpLogRecord } from "./wire-schemas.ts";

function charged(scan: (memory: ReturnType<IngestMemory["open"]>) => void, capacity = 1e9): number {
  const budget = new IngestMemory(capacity);
  scan(budget.open());
  return budget.inUse;
}

describe("chargeJson", () => {
  it("counts containers outside strings, escaped quotes included", () => {
    const body = Buffer.from(String.raw`[{"a":"{[\"]}"},{"b":[1,2,{}]}, "x\\"]`);
    expect(charged((m) => chargeJson(body, m, 3))).toBe(5 * CONTAINER_COST);
  });

  it("checks the elements of a top-level array against the batch limit", () => {
    const body = Buffer.from(`[ "a,b", {"c": [1,2,3]}, 3 ]`);
    expect(() => charged((m) => chargeJson(body, m, 3))).not.toThrow();
    expect(() => charged((m) => chargeJson(body, m, 2))).toThrow(/3 entries, more than the limit of 2/);
    expect(() => charged((m) => chargeJson(Buffer.from("[]"), m, 0))).not.toThrow();
    expect(() => charged((m) => chargeJson(Buffer.from("[5]"), m, 0))).toThrow(/1 entries/);
  });

  it("does not count the lines of NDJSON or an object as array elements", () => {
    const body = Buffer.from('{"a":1,"b":2}\n{"a":[1,2]}\n');
    expect(charged((m) => chargeJson(body, m, 1))).toBe(3 * CONTAINER_COST);
  });

  it("refuses a body whose containers alone exceed the budget", () => {
    const body = Buffer.from(`[${"[],".repeat(10_000)}[]]`);
    expect(() => charged((m) => chargeJson(body, m, 1e9), 100 * CONTAINER_COST)).toThrow(/sets aside/);
  });
});

describe("chargeProtobuf", () => {
  const encode = (records: object[]) =>
    OtlpExportLogsRequest.encode(
      OtlpExportLogsRequest.fromObject({ resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] }),
    ).finish();

  it("counts messages and log records by the schema", () => {
    const body = encode([{ attributes: [{ key: "k", value: { stringValue: "v" } }] }, {}]);
    // resource_logs, scope_logs, 2 records, 1 KeyValue, 1 AnyValue
    expect(charged((m) => chargeProtobuf(body, OtlpExportLogsRequest, OtlpLogRecord, m, 2))).toBe(
      6 * CONTAINER_COST,
    );
    expect(() => charged((m) => chargeProtobuf(body, OtlpExportLogsRequest, OtlpLogRecord, m, 1))).toThrow(
      /2 entries, more than the limit of 1/,
    );
  });

  it("leaves malformed bytes to the decoder", () => {
    const body = Buffer.from([0x0a, 0xff, 0xff, 0xff]);
    expect(() =>
      charged((m) => chargeProtobuf(body, OtlpExportLogsRequest, OtlpLogRecord, m, 1)),
    ).not.toThrow();
  });
});
