/** Issue 12 item 10: a tenant "file" that is a symlink (or a FIFO) is refused unread, in the loader and the CLI. */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadTenantTree, validTree } from "../../charts-src/model/load.ts";
import { TEST_PLATFORM, tenantYaml } from "./fixture-tree.ts";

const SECRET = "NL_LEAK_CANARY_7f3a9c";
let root: string;
let tenants: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "nl-regular-"));
  tenants = join(root, "tenants");
  await mkdir(tenants);
  // The target lies outside the tenant directory and is valid YAML, so a loader that followed the link would
  // echo it back in a schema diagnostic.
  await writeFile(join(root, "outside.yaml"), `apiVersion: neurallog.io/v1alpha1\nkind: ${SECRET}\n`);
  await writeFile(join(tenants, "_platform.yaml"), TEST_PLATFORM);
  await writeFile(join(tenants, "acme.yaml"), tenantYaml("acme"));
  await symlink(join(root, "outside.yaml"), join(tenants, "leak.yaml"));
  const fifo = spawnSync("mkfifo", [join(tenants, "pipe.yaml")]);
  expect(fifo.status).toBe(0);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("tenant files are regular files", () => {
  test("the loader refuses a symlink and a FIFO at line 1 column 1, never reads them, publishes nothing", async () => {
    const result = await loadTenantTree(tenants);
    expect(result.diagnostics).toEqual([
      {
        file: join(tenants, "leak.yaml"),
        line: 1,
        column: 1,
        message: "is a symbolic link: tenant files must be regular files (not read)",
        severity: "error",
      },
      {
        file: join(tenants, "pipe.yaml"),
        line: 1,
        column: 1,
        message: "is not a regular file: tenant files must be regular files (not read)",
        severity: "error",
      },
    ]);
    expect(JSON.stringify(result)).not.toContain(SECRET);
    expect(validTree(result)).toBeUndefined();
  });

  test("a symlinked platform file is refused too", async () => {
    const dir = join(root, "linked-platform");
    await mkdir(dir);
    await writeFile(join(root, "platform-target.yaml"), TEST_PLATFORM);
    await symlink(join(root, "platform-target.yaml"), join(dir, "_platform.yaml"));
    const result = await loadTenantTree(dir);
    expect(result.diagnostics.map((d) => [d.file, d.message])).toEqual([
      [join(dir, "_platform.yaml"), "is a symbolic link: tenant files must be regular files (not read)"],
    ]);
    expect(result.platform).toBeUndefined();
  });

  test("the real CLI: exit 1, FILE:1:1 lines, the secret nowhere in stdout or stderr", () => {
    const run = spawnSync(process.execPath, ["bin/neurallog.ts", "validate", "--tenants", tenants], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`${join(tenants, "leak.yaml")}:1:1`);
    expect(run.stdout).toContain("symbolic link");
    expect(run.stdout).toContain(`${join(tenants, "pipe.yaml")}:1:1`);
    expect(run.stdout + run.stderr).not.toContain(SECRET);
  });
});
