/**
 * The module compile cache is on for the commands people repeat and off for the long-running programs (run as
 * users run them: the real bin in a child process, its temp folder its own).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const BIN = new URL("../bin/neurallog.ts", import.meta.url).pathname;
const EXAMPLES = new URL("../tenants", import.meta.url).pathname;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function run(args: string[]): { status: number | null; cache: string } {
  const temp = mkdtempSync(join(tmpdir(), "nl-cli-cache-"));
  dirs.push(temp);
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: temp };
  delete env.NODE_COMPILE_CACHE;
  const result = spawnSync(process.execPath, [BIN, ...args], { env, encoding: "utf8" });
  return { status: result.status, cache: join(temp, "node-compile-cache") };
}

describe("neurallog's module compile cache", () => {
  it("is written by validate (a command run again and again)", () => {
    const { status, cache } = run(["validate", "--tenants", EXAMPLES]);
    expect(status).toBe(0);
    expect(existsSync(cache) && readdirSync(cache, { recursive: true }).length > 0).toBe(true);
  });

  it("is not written by the programs a pod starts once (backups, as the backup CronJob's image runs it)", () => {
    const empty = mkdtempSync(join(tmpdir(), "nl-cli-backups-"));
    dirs.push(empty);
    // Exit 1: "no good backup" in an empty folder; the modules were loaded all the same.
    const { status, cache } = run(["backups", "--dest", empty]);
    expect(status).toBe(1);
    expect(existsSync(cache)).toBe(false);
  });
});
