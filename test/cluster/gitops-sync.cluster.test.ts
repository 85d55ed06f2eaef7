/**
 * The GitOps flow end to end, with the Argo CD stand-in (argo-sync-standin.ts) in Argo CD's place:
 * tenant files → `neurallog synth` → a commit in a local bare deployment repo (simple-git) → sync at that revision
 * → the cluster matches git. Then a quota change in git reaches the live ResourceQuota, a removed backup is
 * pruned while its volume is kept, and a deleted tenant file leaves the tenant's namespace and volumes in place.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BatchV1Api, CoreV1Api } from "@kubernetes/client-node";
import { simpleGit, type SimpleGit } from "simple-git";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import {
  applicationsInCheckout,
  checkoutRevision,
  outOfSync,
  syncRepository,
  type StandInApplication,
} from "./argo-sync-standin.ts";
import { clusterKubeConfig } from "./cluster-access.ts";
import { ensureStorageClasses } from "./cluster-bootstrap.ts";
import {
  objectsOf,
  readRenderedRepo,
  runSynth,
  storageClassesNamed,
  writeGeneratedTenants,
} from "./rendered-repo.ts";

const kc = clusterKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const scratch = mkdtempSync(join(tmpdir(), "nl-gitops-"));
const tenantsDir = join(scratch, "tenants");
const outDir = join(scratch, "out");
const bareRepo = join(scratch, "deploy.git");
const workTree = join(scratch, "deploy");
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** Tenants of this file only (other cluster test files run at the same time on the same cluster). */
const [kept, removed] = writeGeneratedTenants(tenantsDir, "gitops", 2) as [string, string];
/** Only the tenants' Applications: the platform's objects are another test file's to apply. */
const tenantApps = (apps: readonly StandInApplication[]) => apps.filter((a) => a.path.startsWith("tenants/"));

let git: SimpleGit;
let previous: StandInApplication[] = [];

/** synth → commit → push; returns the new revision. */
async function renderAndCommit(message: string): Promise<string> {
  await runSynth(tenantsDir, outDir);
  // The work tree mirrors the rendered output exactly, so a tenant folder synth removed is removed in git too.
  for (const folder of ["tenants", "argocd", "platform"]) {
    rmSync(join(workTree, folder), { recursive: true, force: true });
    cpSync(join(outDir, folder), join(workTree, folder), { recursive: true });
  }
  await git.add(["-A", "."]);
  await git.commit(message);
  await git.push("origin", "main");
  return (await git.revparse(["HEAD"])).trim();
}

/** One reconciliation of the tenants' Applications at `revision`, as Argo CD's automated sync would do. */
async function sync(revision: string) {
  const result = await syncRepository(kc, bareRepo, revision, previous, {}, tenantApps);
  previous = result.applications;
  return result;
}

async function matchesGit(revision: string): Promise<string[]> {
  const checkout = await checkoutRevision(bareRepo, revision);
  try {
    const { applications, projects } = await applicationsInCheckout(checkout.dir);
    const differences: string[] = [];
    for (const app of tenantApps(applications))
      differences.push(...(await outOfSync(kc, checkout, app, projects)));
    return differences;
  } finally {
    await checkout.remove();
  }
}

function editTenant(name: string, edit: (spec: Record<string, unknown>) => void): void {
  const file = join(tenantsDir, `${name}.yaml`);
  const tenant = parse(readFileSync(file, "utf8")) as { spec: Record<string, unknown> };
  edit(tenant.spec);
  writeFileSync(file, stringify(tenant));
}

describe("GitOps sync (Argo CD stand-in) of rendered tenants from a deployment repo", () => {
  let namespaceOfKept: string;
  let namespaceOfRemoved: string;

  beforeAll(async () => {
    await simpleGit().init(true, [bareRepo, "--initial-branch=main"]);
    await simpleGit().clone(bareRepo, workTree);
    git = simpleGit(workTree);
    await git.addConfig("user.name", "neurallog test").addConfig("user.email", "test@neurallog.invalid");
    await git.checkout(["-B", "main"]);
    await runSynth(tenantsDir, outDir);
    const rendered = readRenderedRepo(outDir);
    await ensureStorageClasses(kc, storageClassesNamed([...rendered.tenants.values()].flatMap(objectsOf)));
    const namespaceOf = (tenant: string) =>
      objectsOf(rendered.tenants.get(tenant) ?? []).find((o) => o.kind === "Namespace")?.metadata?.name ?? "";
    namespaceOfKept = namespaceOf(kept);
    namespaceOfRemoved = namespaceOf(removed);
  }, 120_000);

  it("syncs a revision and the cluster then matches git", async () => {
    const revision = await renderAndCommit("render two tenants");
    const result = await sync(revision);
    expect(result.sha).toBe(revision);
    expect(result.synced.map((s) => s.application).sort()).toEqual(previous.map((a) => a.name).sort());
    expect(previous).toHaveLength(2);
    expect(result.synced.flatMap((s) => s.pruned)).toEqual([]);
    expect(await matchesGit(revision)).toEqual([]);
  }, 180_000);

  it("a quota change in git reaches the live ResourceQuota", async () => {
    editTenant(kept, (spec) => {
      spec.quota = { hard: { "requests.cpu": "7" } };
    });
    const revision = await renderAndCommit(`raise ${kept}'s cpu quota`);
    expect(await matchesGit(revision)).not.toEqual([]);
    await sync(revision);
    const quotas = await core.listNamespacedResourceQuota({ namespace: namespaceOfKept });
    expect(quotas.items.map((q) => q.spec?.hard?.["requests.cpu"])).toContain("7");
    expect(await matchesGit(revision)).toEqual([]);
  }, 180_000);

  it("removing a tenant's backup from git prunes its CronJob but keeps its backup volume (Prune=false)", async () => {
    const claimsBefore = await core.listNamespacedPersistentVolumeClaim({ namespace: namespaceOfKept });
    editTenant(kept, (spec) => {
      spec.backup = { enabled: false };
    });
    const revision = await renderAndCommit(`disable ${kept}'s backup`);
    const result = await sync(revision);
    const pruned = result.synced.flatMap((s) => s.pruned);
    expect(pruned.some((ref) => ref.startsWith("CronJob "))).toBe(true);
    const cronJobs = await kc.makeApiClient(BatchV1Api).listNamespacedCronJob({ namespace: namespaceOfKept });
    expect(cronJobs.items).toEqual([]);
    const claimsAfter = await core.listNamespacedPersistentVolumeClaim({ namespace: namespaceOfKept });
    expect(claimsAfter.items.map((c) => c.metadata?.name).sort()).toEqual(
      claimsBefore.items.map((c) => c.metadata?.name).sort(),
    );
    expect(await matchesGit(revision)).toEqual([]);
  }, 180_000);

  it("deleting a tenant file leaves its namespace and volumes in place", async () => {
    const claimsBefore = await core.listNamespacedPersistentVolumeClaim({ namespace: namespaceOfRemoved });
    expect(claimsBefore.items.length).toBeGreaterThan(0);
    rmSync(join(tenantsDir, `${removed}.yaml`));
    const revision = await renderAndCommit(`remove tenant ${removed}`);
    const result = await sync(revision);
    expect(previous.map((a) => a.path)).not.toContain(`tenants/${removed}`);
    expect(
      result.removed
        .flatMap((r) => r.deleted)
        .filter((ref) => /^(Namespace|PersistentVolumeClaim) /.test(ref)),
    ).toEqual([]);
    const namespace = await core.readNamespace({ name: namespaceOfRemoved });
    expect(namespace.status?.phase).toBe("Active");
    expect(namespace.metadata?.deletionTimestamp).toBeUndefined();
    const claimsAfter = await core.listNamespacedPersistentVolumeClaim({ namespace: namespaceOfRemoved });
    expect(
      claimsAfter.items.map((c) => [c.metadata?.name, c.status?.phase, c.metadata?.deletionTimestamp]),
    ).toEqual(claimsBefore.items.map((c) => [c.metadata?.name, "Bound", undefined]));
  }, 180_000);
});
