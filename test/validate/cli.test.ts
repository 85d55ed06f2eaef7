/** `neurallog validate` as users run it: lines on stdout, summary on stderr, exit code. */
import { spawnSync } from "node:child_process";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { main } from "../../cli/main.ts";
import { tenantYaml } from "./fixture-tree.ts";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "nl-validate-cli-"));
  await cp("tenants", join(dir, "good"), { recursive: true });
  await cp("tenants", join(dir, "bad"), { recursive: true });
  await writeFile(
    join(dir, "bad", "hooli.yaml"),
    tenantYaml("hooli", "plan: larg\nserver:\n  replcas: 2\nbackup: { schedule: '* * *' }\n"),
  );
  await writeFile(join(dir, "bad", "pied-piper.yaml"), "apiVersion: neurallog.io/v1alpha1\nkind: [Tenant\n");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runCli(args: string[]) {
  // The real bin entry in a child process, on the Node that runs the tests (what `npx neurallog` resolves to).
  const result = spawnSync(process.execPath, ["bin/neurallog.ts", ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("neurallog validate", () => {
  test("the examples: exit 0, nothing on stdout, ok on stderr", () => {
    const { code, stdout, stderr } = runCli(["validate", "--tenants", join(dir, "good")]);
    expect({ code, stdout }).toEqual({ code: 0, stdout: "" });
    expect(stderr.trim()).toBe("ok: 3 tenants valid");
  });

  test("mistakes: exit 1, one FILE:LINE:COL line each, sorted, relative paths as given, summary on stderr", () => {
    const tenantsDir = relative(process.cwd(), join(dir, "bad"));
    const { code, stdout, stderr } = runCli(["validate", "--tenants", tenantsDir]);
    expect(code).toBe(1);
    expect(stdout.trimEnd().split("\n")).toEqual([
      `${tenantsDir}/hooli.yaml:7:9: spec.plan: unknown plan "larg" (did you mean "large"?); the platform offers small, standard, large`,
      `${tenantsDir}/hooli.yaml:9:5: spec.server.replcas: unknown field "replcas" (did you mean "replicas"?)`,
      `${tenantsDir}/hooli.yaml:10:23: spec.backup.schedule: "* * *" has 3 fields; a schedule has 5: minute hour day-of-month month day-of-week`,
      expect.stringMatching(new RegExp(`^${tenantsDir}/pied-piper\\.yaml:3:1: YAML: `)),
    ]);
    expect(stderr.trim()).toBe("neurallog validate: 4 errors in 2 files");
  });

  test("an unknown flag is a usage error, exit 1 (in-process, through main)", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      expect(await main(["validate", "--tenant", "tenants"])).toBe(1);
      expect(errors.mock.calls.flat().join("\n")).toMatch(/neurallog validate: Unknown option '--tenant'/);
    } finally {
      errors.mockRestore();
    }
  });

  test("in-process run() gives the same verdict on the examples", async () => {
    const logs = vi.spyOn(console, "log").mockImplementation(() => {});
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      expect(await main(["validate"])).toBe(0);
      expect(logs).not.toHaveBeenCalled();
      expect(errors.mock.calls.flat()).toEqual(["ok: 3 tenants valid"]);
    } finally {
      logs.mockRestore();
      errors.mockRestore();
    }
  });
});
