import { describe, expect, it } from "vitest";
import { toolTime } from "./tool-kit.ts";

describe("toolTime", () => {
  const now = Date.parse("2026-12-03T12:00:00Z");

  it("takes ISO 8601, epoch milliseconds, or a duration before now in the one duration syntax", () => {
    expect(toolTime("2026-12-03T11:00:00Z", now, "from")).toBe(now - 3_600_000);
    expect(toolTime(1_700_000_000_000, now, "from")).toBe(1_700_000_000_000);
    expect(toolTime("1700000000000", now, "from")).toBe(1_700_000_000_000);
    expect(toolTime("15m", now, "from")).toBe(now - 15 * 60_000);
    expect(toolTime("2w", now, "from")).toBe(now - 14 * 86_400_000);
    expect(toolTime(undefined, now, "from")).toBeUndefined();
  });

  it("names the argument it cannot read", () => {
    expect(() => toolTime("yesterday", now, "to")).toThrow(
      'to: expected an ISO 8601 time, epoch ms or a duration like 15m, got "yesterday"',
    );
  });
});
