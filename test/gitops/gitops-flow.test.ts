import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GIT_ENV, sandbox, showFile, tenantsRepo, treeFiles, type Sandbox } from "./git-fixtures.ts";
import { run as publish } from "../../cli/commands/publish.ts";
import { addedPaths, addTenantByPullRequest, capture } from "./tenant-pull-request.ts";

Object.assign(process.env, GIT_ENV);

let box: Sandbox;
beforeEach(async () => {
  box = await sandbox();
  process.env.NEURALLOG_CACHE_DIR = path.join(box.root, "cache");
});
afterEach(async () => {
  delete process.env.NEURALLOG_CACHE_DIR;
  await box.cleanup();
});

describe("a tenant added by pull request, end to end (git only)", () => {
  it("validate and diff show exactly the new tenant; after merge, publish adds exactly those files in one commit", async () => {
    const { repo, tenants } = await tenantsRepo(box);
    const deployRepo = await box.bare("deploy.git");
    const flow = await addTenantByPullRequest({ repo, tenants, deployRepo, newTenant: "newco" });

    expect(flow.initialPublish.code).toBe(0);
    expect(flow.deployBefore).toHaveLength(1);
    expect(flow.scaffold.code).toBe(0);

    expect(flow.validate).toMatchObject({ code: 0, out: "" });
    expect(flow.diff.code).toBe(2);
    expect(flow.diff.out).toContain("tenant newco: added");
    expect(flow.diff.out).not.toMatch(/^tenant (?!newco)/m);
    expect(flow.diff.out).toContain("diff: 1 added, 0 changed, 0 removed of 4 tenants; 0 dangerous changes");
    const diffPaths = addedPaths(flow.diff.out);
    expect(diffPaths).toContain("tenants/newco/namespace-nl-newco.yaml");
    expect(diffPaths).toContain("argocd/appproject-nl-newco.yaml");

    expect(flow.publish.code).toBe(0);
    expect(flow.deployAfter).toHaveLength(2);
    const [commit] = flow.deployAfter;
    expect(commit!.files.sort()).toEqual(diffPaths);
    expect(commit!.message.split("\n")[0]).toBe("neurallog publish: add newco");
    expect(commit!.message).toContain(`Source-Commit: ${flow.mergeCommit}`);
    expect(await treeFiles(deployRepo)).toEqual(expect.arrayContaining(diffPaths));
    expect(await showFile(deployRepo, "tenants/newco/namespace-nl-newco.yaml")).toContain("name: nl-newco");
  });

  it("publish refuses an invalid tenant tree and pushes nothing", async () => {
    const { tenants } = await tenantsRepo(box);
    const deployRepo = await box.bare("deploy.git");
    await writeFile(path.join(tenants, "broken.yaml"), "apiVersion: neurallog.io/v1alpha1\nkind: Tenant\n");
    const result = await capture(publish, ["--repo", deployRepo, "--tenants", tenants]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(new RegExp(`${path.join(tenants, "broken.yaml")}:\\d+:\\d+: `));
    expect(result.err).toContain("nothing published");
    // The bare repo still has no branch at all: nothing was pushed.
    await expect(treeFiles(deployRepo)).rejects.toThrow();
  });
});
