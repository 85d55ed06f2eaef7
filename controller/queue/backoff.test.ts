import { describe, expect, it } from "vitest";
import { ExponentialBackoff, backoffDelay } from "./backoff.ts";

describe("backoffDelay", () => {
  it("doubles from the base and stops at the ceiling", () => {
    const options = { baseMs: 5, maxMs: 1000 };
    expect([1, 2, 3, 4, 8, 9, 100, 10_000].map((n) => backoffDelay(n, options))).toEqual([
      5, 10, 20, 40, 640, 1000, 1000, 1000,
    ]);
  });

  it("is zero before any failure", () => {
    expect(backoffDelay(0, { baseMs: 5, maxMs: 10 })).toBe(0);
  });
});

describe("ExponentialBackoff", () => {
  it("counts failures per key and starts a key over after forget", () => {
    const backoff = new ExponentialBackoff<string>({ baseMs: 100, maxMs: 400 });
    expect([
      backoff.when("a"),
      backoff.when("a"),
      backoff.when("b"),
      backoff.when("a"),
      backoff.when("a"),
    ]).toEqual([100, 200, 100, 400, 400]);
    expect(backoff.failures("a")).toBe(4);
    backoff.forget("a");
    expect(backoff.failures("a")).toBe(0);
    expect(backoff.when("a")).toBe(100);
    expect(backoff.when("b")).toBe(200);
  });

  it("refuses nonsensical options", () => {
    expect(() => new ExponentialBackoff({ baseMs: 0, maxMs: 10 })).toThrow(RangeError);
    expect(() => new ExponentialBackoff({ baseMs: 10, maxMs: 5 })).toThrow(RangeError);
  });
});
