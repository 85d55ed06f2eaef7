import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BaseRefError } from "../../gitops/base-ref.ts";
import { checkRemovedTenants } from "../../gitops/decommission-guard.ts";
import { GIT_ENV, sandbox, tenantsRepo, type Sandbox } from "./git-fixtures.ts";

Object.assign(process.env, GIT_ENV);

let box: Sandbox;
beforeEach(async () => {
  box = await sandbox();
});
afterEach(async () => {
  await box.cleanup();
});

describe("checkRemovedTenants", () => {
  it("refuses a tenant file removed without decommission: true at the base", async () => {
    const { tenants } = await tenantsRepo(box);
    await rm(path.join(tenants, "initech.yaml"));

    const diagnostics = await checkRemovedTenants("HEAD", tenants);
    expect(diagnostics).toEqual([
      expect.objectContaining({
        file: path.join(tenants, "initech.yaml"),
        line: 1,
        column: 1,
        severity: "error",
        message: expect.stringContaining("tenant initech removed without being decommissioned first"),
      }),
    ]);
  });

  it("accepts the removal once the base marked the tenant decommission: true", async () => {
    const { tenants, git } = await tenantsRepo(box);
    const file = path.join(tenants, "initech.yaml");
    await writeFile(file, (await readFile(file, "utf8")).replace("suspend: true", "decommission: true"));
    await git.add(".").commit("decommission initech");
    await rm(file);

    expect(await checkRemovedTenants("HEAD", tenants)).toEqual([]);
    // Against the commit before the marking, the same removal is refused: the two steps must be separate.
    expect(await checkRemovedTenants("HEAD~1", tenants)).toHaveLength(1);
  });

  it("says nothing when no tenant was removed, or the directory is new since the base", async () => {
    const { tenants, git } = await tenantsRepo(box);
    expect(await checkRemovedTenants("HEAD", tenants)).toEqual([]);
    await git.mv("tenants", "tenants-new");
    await git.commit("move");
    expect(await checkRemovedTenants("HEAD~1", path.join(path.dirname(tenants), "tenants-new"))).toEqual([]);
  });

  it("names an unknown ref", async () => {
    const { tenants } = await tenantsRepo(box);
    await expect(checkRemovedTenants("no-such-branch", tenants)).rejects.toThrow(BaseRefError);
    await expect(checkRemovedTenants("no-such-branch", tenants)).rejects.toThrow(
      'unknown git ref "no-such-branch"',
    );
  });

  it("fails closed when the base's tenant directory cannot be read (a missing object), never passing for empty", async () => {
    const { tenants, git } = await tenantsRepo(box);
    await rm(path.join(tenants, "initech.yaml"));
    // The tenant directory's tree object at the base goes missing, as in a shallow or partial clone.
    const tree = (await git.raw(["rev-parse", "HEAD:tenants"])).trim();
    const top = (await git.raw(["rev-parse", "--show-toplevel"])).trim();
    await rm(path.join(top, ".git", "objects", tree.slice(0, 2), tree.slice(2)));

    await expect(checkRemovedTenants("HEAD", tenants)).rejects.toThrow(BaseRefError);
    await expect(checkRemovedTenants("HEAD", tenants)).rejects.toThrow(/cannot read the tenant directory at/);
  });
});
