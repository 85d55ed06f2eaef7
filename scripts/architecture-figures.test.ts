import { describe, expect, it } from "vitest";
import { measure } from "./architecture-figures.ts";

// The lint rules (eslint.config.js) catch a forbidden import and a runtime cycle where they are written; this
// keeps the figures of issue 13 at zero as measured, type-only imports included (import-x/no-cycle skips those).
describe("architecture figures", () => {
  const figures = measure();

  it("no production module imports another program's folder (gitops → charts-src/index.ts aside)", () => {
    expect(figures.forbidden).toEqual([]);
  });

  it("no import cycles, type-only imports included", () => {
    expect(figures.cycles).toEqual([]);
  });

  it("no function over 80 lines (split it the way its framework expects: issue 13)", () => {
    expect(figures.longerThan80).toEqual([]);
  });
});
