import { describe, expect, it } from "vitest";
import { LOG_LEVELS, type LogEntry } from "../../logs/log-entry.ts";
import { BatchView, prefilterOf } from "./batch-view.ts";
import { compileCondition } from "./condition.ts";
import type { Condition } from "../../../contracts/rules/rule-schema.ts";

const entries: LogEntry[] = Array.from({ length: 300 }, (_, i) => ({
  timestamp: i,
  level: LOG_LEVELS[i % LOG_LEVELS.length]!,
  message: `m${i % 7}`,
  source: ["api", "db", "web"][i % 3]!,
  fields: { n: i },
}));

const conditions: Condition[] = [
  { level: "warn" },
  { field: "source", equals: "db" },
  { field: "source", in: ["api", "web"] },
  { all: [{ level: "error" }, { field: "source", equals: "api" }, { contains: "m3" }] },
  {
    all: [
      { field: "source", in: ["api", "db"] },
      { field: "source", equals: "db" },
    ],
  },
  { any: [{ level: "fatal" }, { field: "source", equals: "web" }] },
  { not: { field: "source", equals: "db" } },
  { field: "source", equals: "DB", ignoreCase: true },
];

describe("prefilter", () => {
  it.each(conditions.map((c) => [JSON.stringify(c), c] as const))(
    "never drops a matching entry: %s",
    (_, condition) => {
      const matches = compileCondition(condition);
      const candidates = new BatchView(entries).candidates(prefilterOf(condition), false);
      const expected = entries
        .filter(matches)
        .map((e) => e.timestamp)
        .sort((a, b) => a - b);
      expect(
        candidates
          .filter(matches)
          .map((e) => e.timestamp)
          .sort((a, b) => a - b),
      ).toEqual(expected);
    },
  );

  it("narrows the candidates of a selective rule", () => {
    const p = prefilterOf({ all: [{ level: "error" }, { field: "source", equals: "api" }] });
    expect(new BatchView(entries).candidates(p, false).length).toBeLessThan(entries.length / 5);
  });
});
