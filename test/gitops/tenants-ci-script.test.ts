/** ci-templates/tenants-ci.sh, the CI script for systems other than GitHub Actions, run with /bin/sh. */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GIT_ENV, history, sandbox, tenantsRepo, type Sandbox } from "./git-fixtures.ts";

const ROOT = path.join(import.meta.dirname, "../..");
const SCRIPT = path.join(ROOT, "ci-templates/tenants-ci.sh");
const exec = promisify(execFile);

let box: Sandbox;
beforeEach(async () => {
  box = await sandbox();
});
afterEach(async () => {
  await box.cleanup();
});

async function script(cwd: string, args: string[]) {
  const env = {
    ...process.env,
    ...GIT_ENV,
    NEURALLOG: `${process.execPath} ${path.join(ROOT, "bin/neurallog.ts")}`,
    NEURALLOG_CACHE_DIR: path.join(box.root, "cache"),
  };
  return exec("sh", [SCRIPT, ...args], { cwd, env, timeout: 120_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

describe("tenants-ci.sh", () => {
  it("pr: validates and writes the Markdown diff; publish: commits to the deployment repo", async () => {
    const { repo, tenants, git } = await tenantsRepo(box);
    await git.checkoutLocalBranch("raise-quota");
    const file = path.join(tenants, "globex.yaml");
    await writeFile(
      file,
      (await readFile(file, "utf8")).replace("requests.storage: 300Gi", "requests.storage: 400Gi"),
    );
    await git.add(".").commit("globex: more storage");

    const pr = await script(repo, ["pr", "main", "diff.md"]);
    expect(pr).toMatchObject({ code: 0 });
    expect(pr.stdout).toContain("rendered manifests change; see diff.md");
    const markdown = await readFile(path.join(repo, "diff.md"), "utf8");
    expect(markdown).toContain("#### tenant globex: changed");
    expect(markdown).toContain("+    requests.storage: 400Gi");

    const deploy = await box.bare("deploy.git");
    expect(await script(repo, ["publish", deploy, "main"])).toMatchObject({ code: 0 });
    expect(await history(deploy)).toHaveLength(1);
  });

  it("pr: fails when a tenant is removed without being decommissioned first", async () => {
    const { repo, tenants, git } = await tenantsRepo(box);
    await git.rm(path.join(tenants, "initech.yaml"));
    const removed = await script(repo, ["pr", "main"]);
    expect(removed.code).toBe(1);
    expect(removed.stdout).toContain(
      "initech.yaml:1:1: tenant initech removed without being decommissioned first",
    );
  });

  it("refuses unknown commands with its usage", async () => {
    const { repo } = await tenantsRepo(box);
    const result = await script(repo, ["deploy", "x"]);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain("usage:");
  });
});
