/**
 * The GitOps flow end to end, into the real test control plane: a tenant added by pull request (validate, diff,
 * merge, publish; tenant-pull-request.ts) is synced from the deployment repo by the Argo CD stand-in of the
 * test-cluster harness (test/cluster/argo-sync-standin.ts), and the cluster then matches git.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { CoreV1Api, type KubernetesObject } from "@kubernetes/client-node";
import { simpleGit } from "simple-git";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  applicationsInCheckout,
  checkoutRevision,
  outOfSync,
  syncRepository,
  type StandInApplication,
} from "../cluster/argo-sync-standin.ts";
import { applyManifests } from "../cluster/apply-manifests.ts";
import { clusterKubeConfig, uniqueName } from "../cluster/cluster-access.ts";
import { ensureStorageClasses } from "../cluster/cluster-bootstrap.ts";
import { readManifestFile } from "../cluster/manifest-files.ts";
import { storageClassesNamed, writeGeneratedTenants } from "../cluster/rendered-repo.ts";
import { GIT_ENV } from "./git-fixtures.ts";
import { addedPaths, addTenantByPullRequest } from "./tenant-pull-request.ts";

Object.assign(process.env, GIT_ENV);
const kc = clusterKubeConfig();
const scratch = await mkdtemp(path.join(tmpdir(), "nl-gitops-flow-"));
process.env.NEURALLOG_CACHE_DIR = path.join(scratch, "cache");
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe("a tenant added by pull request reaches the cluster (Argo CD stand-in)", () => {
  it("publish → sync applies exactly the new tenant's objects and the cluster matches git", async () => {
    const repo = path.join(scratch, "tenants-repo");
    const tenants = path.join(repo, "tenants");
    // Tenant names unique to this run: other cluster test files share the control plane.
    const prefix = uniqueName("flow");
    const [existing] = writeGeneratedTenants(tenants, prefix, 1) as [string];
    const newTenant = `${prefix}-new`;
    await simpleGit(repo).init(["--initial-branch=main"]).add(".").commit("tenants");
    const deployRepo = path.join(scratch, "deploy.git");
    await simpleGit().init(["--bare", "--initial-branch=main", deployRepo]);

    const flow = await addTenantByPullRequest({ repo, tenants, deployRepo, newTenant });
    expect([flow.validate.code, flow.diff.code, flow.publish.code]).toEqual([0, 2, 0]);
    const [commit] = flow.deployAfter;
    expect(commit!.files.sort()).toEqual(addedPaths(flow.diff.out));

    const ours = (apps: StandInApplication[]) =>
      apps.filter((a) => a.path === `tenants/${existing}` || a.path === `tenants/${newTenant}`);
    const checkout = await checkoutRevision(deployRepo, commit!.hash);
    try {
      const objects: KubernetesObject[] = [];
      for (const file of commit!.files.filter((f) => f.startsWith("tenants/"))) {
        objects.push(parse(await readFile(path.join(checkout.dir, file), "utf8")) as KubernetesObject);
      }
      await ensureStorageClasses(kc, storageClassesNamed(objects));

      const result = await syncRepository(kc, deployRepo, commit!.hash, [], {}, ours);
      expect(result.sha).toBe(commit!.hash);
      const synced = result.synced.find((s) => s.application.endsWith(newTenant));
      expect(synced?.applied.length).toBe(objects.length);

      const namespace = objects.find((o) => o.kind === "Namespace")!.metadata!.name!;
      const live = await kc.makeApiClient(CoreV1Api).readNamespace({ name: namespace });
      expect(live.status?.phase).toBe("Active");
      const { applications, projects } = await applicationsInCheckout(checkout.dir);
      for (const app of ours(applications)) expect(await outOfSync(kc, checkout, app, projects)).toEqual([]);
    } finally {
      await checkout.remove();
    }
  }, 300_000);

  it("the argocd/ bootstrap is accepted by the real Argo CD CRDs (strict server-side apply, dry run)", async () => {
    const bootstrap = path.join(import.meta.dirname, "../../argocd");
    const objects = ["project-platform.yaml", "app-tenants.yaml", "app-platform.yaml"].flatMap((f) =>
      readManifestFile(path.join(bootstrap, f)),
    );
    await applyManifests(kc, [{ apiVersion: "v1", kind: "Namespace", metadata: { name: "argocd" } }], {
      fieldManager: "neurallog-gitops-test",
    });
    const applied = await applyManifests(kc, objects, {
      fieldManager: "neurallog-gitops-test",
      dryRun: true,
    });
    expect(applied.map((a) => a.ref)).toEqual([
      "AppProject argocd/neurallog-platform",
      "Application argocd/neurallog-tenants",
      "Application argocd/neurallog-platform",
    ]);
  });
});
