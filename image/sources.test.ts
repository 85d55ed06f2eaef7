import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { traceSources } from "./sources.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

describe("traceSources", () => {
  it("follows imports and modules started by URL (the render threads' entry)", () => {
    const sources = traceSources(ROOT);
    expect(sources).toContain("cli/commands/synth.ts");
    expect(sources).toContain("charts-src/render/render-pool.ts");
    // Never imported, only started as a worker thread: missing from the image, synth of a large tree would fail.
    expect(sources).toContain("charts-src/render/render-worker.ts");
    expect(sources.some((f) => f.endsWith(".test.ts"))).toBe(false);
  });
});
