import { describe, expect, it } from "vitest";
import {
  bloomMayContain,
  buildBloom,
  decodeBlocks,
  indexBatch,
  levelMaskAtLeast,
  tokenize,
} from "./batch-index.ts";

describe("batch index", () => {
  it("has no false negatives and few false positives", () => {
    const terms = new Set(Array.from({ length: 5000 }, (_, i) => `t:term${i}`));
    const bloom = buildBloom(terms);
    for (const term of terms) expect(bloomMayContain(bloom, term)).toBe(true);
    let falsePositives = 0;
    for (let i = 0; i < 5000; i++) if (bloomMayContain(bloom, `t:other${i}`)) falsePositives++;
    expect(falsePositives).toBeLessThan(150);
  });

  it("tokenizes case-insensitively on letters and digits", () => {
    expect(tokenize("GET /api/v1/Users?id=42 → Timeout!")).toEqual([
      "get",
      "api",
      "v1",
      "users",
      "id",
      "42",
      "timeout",
    ]);
    expect(tokenize("Überweisung fehlgeschlagen")).toEqual(["überweisung", "fehlgeschlagen"]);
  });

  it("summarizes a batch: time range, levels, terms, per-minute counts", () => {
    const index = indexBatch([
      {
        timestamp: 120_000,
        level: "warn",
        message: "disk almost full",
        source: "node-1",
        fields: { disk: "sda" },
      },
      { timestamp: 60_000, level: "error", message: "disk full", source: "node-2", fields: {} },
    ]);
    expect([index.minTs, index.maxTs, index.count]).toEqual([60_000, 120_000, 2]);
    expect(index.levelMask & levelMaskAtLeast("error")).not.toBe(0);
    expect(index.levelMask & levelMaskAtLeast("fatal")).toBe(0);
    for (const term of ["t:disk", "t:almost", "s:node-2", "f:disk=sda"])
      expect(bloomMayContain(index.bloom, term)).toBe(true);
    expect(Object.fromEntries(index.stats.get(0)!)).toEqual({
      "2|l|warn": 1,
      "2|s|node-1": 1,
      "1|l|error": 1,
      "1|s|node-2": 1,
    });
  });

  it("summarizes each block of a batch on its own: time range, levels, terms", () => {
    const entries = Array.from({ length: 5 }, (_, i) => ({
      timestamp: 1000 * i,
      level: i === 4 ? ("error" as const) : ("info" as const),
      message: `step ${i === 3 ? "needle" : "hay"}`,
      source: `node-${i}`,
      fields: { n: i },
    }));
    const { blockLogs, blocks } = decodeBlocks(indexBatch(entries, 2).blocks);
    expect(blockLogs).toBe(2);
    expect(blocks.map((b) => [b.minTs, b.maxTs])).toEqual([
      [0, 1000],
      [2000, 3000],
      [4000, 4000],
    ]);
    expect(blocks.map((b) => (b.levelMask & levelMaskAtLeast("error")) !== 0)).toEqual([false, false, true]);
    const holding = (term: string): boolean[] =>
      blocks.map((b) => bloomMayContain(Buffer.from(b.bloom), term));
    expect(holding("t:needle")).toEqual([false, true, false]);
    expect(holding("s:node-4")).toEqual([false, false, true]);
    expect(holding("f:n=0")).toEqual([true, false, false]);
  });
});
