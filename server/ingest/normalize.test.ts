import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../config/config.ts";
import { EntryError, EntryNormalizer, parseLevel, parseTimestamp } from "./normalize.ts";

const RECEIVED = Date.UTC(2026, 10, 27, 12, 0, 0);
const normalizer = new EntryNormalizer(DEFAULT_LIMITS, RECEIVED);
const MS = Date.UTC(2026, 10, 27, 3, 4, 5, 678);

describe("timestamps", () => {
  it.each([
    ["ISO 8601 with Z", "2026-11-27T03:04:05.678Z", MS],
    ["ISO 8601 with offset", "2026-11-27T05:04:05.678+02:00", MS],
    ["epoch seconds (number)", MS / 1000, MS],
    ["epoch ms (number)", MS, MS],
    ["epoch µs (number)", MS * 1000, MS],
    ["epoch ns (string)", `${MS}000000`, MS],
    ["epoch seconds (string)", `${MS / 1000}`, MS],
    ["epoch ms (string)", `${MS}`, MS],
  ])("%s", (_name, value, expected) => {
    expect(parseTimestamp(value)?.ms).toBe(expected);
  });

  it("keeps nanoseconds beyond the millisecond", () => {
    expect(parseTimestamp(`${MS}000123`)).toEqual({ ms: MS, ns: `${MS}000123` });
  });

  it("refuses what is not a time", () => {
    for (const bad of ["yesterday", "2026-13-45T99:00:00Z", "", true, null, -5e20]) {
      expect(parseTimestamp(bad as never)).toBeUndefined();
    }
  });

  it("uses the receipt time when none is given, and rejects a bad one naming the field", () => {
    expect(normalizer.normalize({ msg: "x" }).timestamp).toBe(RECEIVED);
    expect(() => normalizer.normalize({ time: "soon", msg: "x" })).toThrow(/time "soon" is not a time/);
  });
});

describe("levels", () => {
  it.each([
    ["WARNING", "warn"],
    ["Err", "error"],
    ["crit", "fatal"],
    ["emerg", "fatal"],
    ["notice", "info"],
    ["verbose", "trace"],
    [10, "trace"],
    [30, "info"],
    [50, "error"],
    [60, "fatal"],
    [3, "error"],
    ["40", "warn"],
  ] as const)("%s → %s", (value, level) => {
    expect(parseLevel(value)).toBe(level);
  });

  it("maps OTel severity numbers and keeps unknown level names", () => {
    expect(normalizer.normalize({ severityNumber: 17, body: "x" }).level).toBe("error");
    expect(normalizer.normalize({ severity_number: 22, body: "x" }).level).toBe("fatal");
    const odd = normalizer.normalize({ level: "loud", msg: "x" });
    expect(odd.level).toBe("info");
    expect(odd.fields["level.original"]).toBe("loud");
  });
});

describe("records", () => {
  it("recognizes aliases and flattens nested fields", () => {
    const entry = normalizer.normalize({
      "@timestamp": "2026-11-27T03:04:05.678Z",
      severity: "Error",
      msg: "payment failed",
      service: { name: "billing", version: "1.2" },
      trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      http: { status: 502, path: "/pay" },
      tags: ["a", "b"],
    });
    expect(entry).toEqual({
      timestamp: MS,
      level: "error",
      message: "payment failed",
      source: "billing",
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      fields: { "service.version": "1.2", "http.status": 502, "http.path": "/pay", tags: '["a","b"]' },
    });
  });

  it("keeps the better alias and the other as a field", () => {
    const entry = normalizer.normalize({ msg: "short", message: "the message", app: "web", source: "src" });
    expect(entry.message).toBe("the message");
    expect(entry.source).toBe("src");
    expect({ ...entry.fields }).toEqual({ msg: "short", app: "web" });
  });

  it("treats __proto__ as an ordinary field", () => {
    const entry = normalizer.normalize(JSON.parse('{"msg":"x","__proto__":{"polluted":1}}'));
    expect(entry.fields["__proto__.polluted"]).toBe(1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("defaults the source to unknown and the message to empty", () => {
    const entry = normalizer.normalize({ a: 1 });
    expect([entry.source, entry.message, entry.level]).toEqual(["unknown", "", "info"]);
  });

  it.each([
    ["not an object", 42, /expected a JSON object, got a number/],
    ["an array", [1], /got an array/],
    [
      "a long message",
      { msg: "x".repeat(DEFAULT_LIMITS.maxMessageLength + 1) },
      /message has \d+ characters/,
    ],
    ["a long field", { msg: "x", f: "y".repeat(DEFAULT_LIMITS.maxFieldValueLength + 1) }, /field "f" has/],
    [
      "too many fields",
      Object.fromEntries(Array.from({ length: DEFAULT_LIMITS.maxFields + 1 }, (_, i) => [`k${i}`, i])),
      /more than 200 fields/,
    ],
    ["too deep", JSON.parse('{"a":'.repeat(20) + "1" + "}".repeat(20)), /nested deeper/],
  ])("rejects %s with a reason", (_name, record, reason) => {
    expect(() => normalizer.normalize(record)).toThrow(EntryError);
    expect(() => normalizer.normalize(record)).toThrow(reason);
  });
});
