/**
 * Robustness: every one-line mutation of an example tenant (line removed, value garbled, line duplicated,
 * indentation broken) loads without throwing, and every finding points at a real line of the file.
 */
import { mkdtemp, readFile, rm, writeFile, copyFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { loadTenantTree } from "../../charts-src/model/load.ts";

let dir: string;
let lines: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "nl-validate-mut-"));
  await copyFile("tenants/_platform.yaml", join(dir, "_platform.yaml"));
  lines = (await readFile("tenants/globex.yaml", "utf8")).split("\n");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mutations: [string, (line: string) => string[]][] = [
  ["removed", () => []],
  ["duplicated", (line) => [line, line]],
  ["value garbled", (line) => [line.replace(/:\s.*$/, ": {[ 0x!")]],
  ["value negative", (line) => [line.replace(/:\s.*$/, ": -1")]],
  ["indented", (line) => [` ${line}`]],
];

test("one-line mutations of globex.yaml never throw, and every finding points into the file", async () => {
  let withFindings = 0;
  let runs = 0;
  for (const [, mutate] of mutations) {
    for (let i = 0; i < lines.length; i++) {
      {
        const text = [...lines.slice(0, i), ...mutate(lines[i]!), ...lines.slice(i + 1)].join("\n");
        await writeFile(join(dir, "globex.yaml"), text);
        const result = await loadTenantTree(dir);
        runs += 1;
        const lineCount = text.split("\n").length;
        for (const d of result.diagnostics) {
          expect(d.file.endsWith("globex.yaml"), JSON.stringify(d)).toBe(true);
          expect(d.line >= 1 && d.line <= lineCount && d.column >= 1, JSON.stringify(d)).toBe(true);
          expect(d.message, JSON.stringify(d)).not.toMatch(/undefined|\[object Object\]|NaN/);
        }
        if (result.diagnostics.length > 0) withFindings += 1;
        if (process.env.NL_SHOW_MUTATIONS) for (const d of result.diagnostics) console.log(d.message);
      }
    }
  }
  // Most mutations break something (the test would be vacuous if the loader saw nothing).
  expect(runs).toBe(mutations.length * lines.length);
  expect(withFindings).toBeGreaterThan(runs / 2);
});
