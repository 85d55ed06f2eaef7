/**
 * The GitOps path with the tool our users run: real Argo CD (argocd/argo-cd.ts) syncing a local deployment repo
 * (`file://`) that `neurallog publish` writes, bootstrapped by the committed `argocd/` folder exactly as a
 * platform team applies it. Every step ends when Argo CD itself reports the Applications Synced and Healthy.
 *
 * This file owns every real-Argo-CD scenario, run in sequence on one deployment repo: the bootstrap's names
 * (AppProject and Applications `neurallog-*`, the ApplicationSet `neurallog-tenants`) are fixed by the product
 * and Argo CD watches one namespace, so two files bootstrapping at once would fight over the same objects;
 * one deployment repo with one bootstrap is also how a cluster really runs it. Other cluster test files never
 * create Argo CD objects (synth-tenants.cluster.test.ts only dry-runs them).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  NetworkingV1Api,
  PatchStrategy,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { simpleGit, type SimpleGit } from "simple-git";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse, stringify } from "yaml";
import { run as publish } from "../../cli/commands/publish.ts";
import { GIT_ENV } from "../gitops/git-fixtures.ts";
import { addedPaths, addTenantByPullRequest, capture } from "../gitops/tenant-pull-request.ts";
import { applyManifests } from "./apply-manifests.ts";
import { syncOrder } from "./apply-order.ts";
import { asArgoCd } from "./argocd/argo-cd.ts";
import {
  applyBootstrap,
  type Application,
  describeApplication,
  PLACEHOLDER_REPO_URL,
  readApplication,
  readApplicationSet,
  readAppProject,
  readResourceTree,
  refreshApplication,
  refreshApplicationSet,
  waitForArgo,
  waitSyncedAndHealthy,
} from "./argocd/applications.ts";
import { clusterKubeConfig } from "./cluster-access.ts";
import { ObjectApi } from "./object-api.ts";
import { ensureStorageClasses } from "./cluster-bootstrap.ts";
import {
  EXAMPLE_TENANTS_DIR,
  objectsOf,
  readRenderedRepo,
  runSynth,
  storageClassesNamed,
  tenantNames,
} from "./rendered-repo.ts";

Object.assign(process.env, GIT_ENV);
const kc = clusterKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const scratch = mkdtempSync(join(tmpdir(), "nl-argocd-gitops-"));
process.env.NEURALLOG_CACHE_DIR = join(scratch, "cache");
afterAll(() => rm(scratch, { recursive: true, force: true }));

const tenantsRepo = join(scratch, "tenants-repo");
const tenantsDir = join(tenantsRepo, "tenants");
const deployRepo = join(scratch, "deploy.git");
const deployUrl = `file://${deployRepo}`;
const examples = tenantNames(EXAMPLE_TENANTS_DIR);
const newTenant = "newco";
/** Publish timing per scenario: publish started → Argo CD reports Synced and Healthy. */
const timings: Record<string, number> = {};

let tenantsGit: SimpleGit;

async function head(): Promise<string> {
  return (await simpleGit(deployRepo).revparse(["main"])).trim();
}

/** The CI step after a merge: `neurallog publish` of the tenants repo's main; returns the new deploy revision. */
async function publishMain(): Promise<string> {
  const published = await capture(publish, [
    "--repo",
    deployRepo,
    "--branch",
    "main",
    "--tenants",
    tenantsDir,
  ]);
  expect(published.code, published.err).toBe(0);
  return head();
}

function editTenant(name: string, edit: (spec: Record<string, unknown>) => void): void {
  const file = join(tenantsDir, `${name}.yaml`);
  const tenant = parse(readFileSync(file, "utf8")) as { spec: Record<string, unknown> };
  edit(tenant.spec);
  writeFileSync(file, stringify(tenant));
}

/** Commits the tenants repo's work tree on main (a merged pull request). */
async function merge(message: string): Promise<void> {
  await tenantsGit.add(["-A", "."]);
  await tenantsGit.commit(message);
}

/** After a publish: the app of apps syncs the AppProjects first, then the ApplicationSet makes the Applications. */
async function waitTenantsApp(revision: string): Promise<void> {
  await waitSyncedAndHealthy(kc, "neurallog-tenants", revision);
  // Its git generator is polled; the refresh annotation makes it read the revision the AppProjects came from.
  await refreshApplicationSet(kc, "neurallog-tenants");
}

/**
 * The test platform has no resource metrics API (metrics.k8s.io: metrics-server scraping kubelets; KWOK nodes have
 * none), so the HPA of a tenant with `server.autoscaling` reports ScalingActive=False FailedGetResourceMetric and
 * Argo CD's HPA health check calls it, and so the Application, Degraded — as it would on any cluster without
 * metrics-server. Those tenants are judged Healthy apart from exactly that; the bootstrap test asserts the reason.
 */
const AUTOSCALED = new Set(
  examples.filter((tenant) => {
    const file = parse(readFileSync(join(EXAMPLE_TENANTS_DIR, `${tenant}.yaml`), "utf8")) as {
      spec?: { server?: { autoscaling?: unknown } };
    };
    return file.spec?.server?.autoscaling !== undefined;
  }),
);
const namespaceOf = (tenant: string) => (tenant === "initech" ? "initech-logs" : `nl-${tenant}`);
const hpaDegraded = (tenant: string) =>
  `Caused by autoscaling/HorizontalPodAutoscaler:${namespaceOf(tenant)}/${tenant}-server`;

/**
 * No NeuralLog controller runs here (the platform's controller Deployment is on KWOK nodes: no process), so no
 * Tenant gets a status and the shipped health check (argocd/argocd-cm-patch.yaml) keeps it Progressing, waiting
 * for the controller, in the last sync wave, where it holds nothing back. Tenants are judged Healthy apart from
 * exactly that; controller/tenant-status.cluster.test.ts runs the controller that writes the status.
 */
const tenantUnjudged = (tenant: string) => `Caused by neurallog.io/Tenant:${namespaceOf(tenant)}/${tenant}`;

function tenantHealthy(tenant: string, app: Application | undefined): boolean {
  const health = app?.status?.health;
  if (health?.status === "Healthy") return true;
  if (AUTOSCALED.has(tenant)) return health?.status === "Degraded" && health.message === hpaDegraded(tenant);
  return health?.status === "Progressing" && health.message === tenantUnjudged(tenant);
}

/** Waits for a tenant's Application (made by the ApplicationSet) to be Synced to `revision` and Healthy. */
async function waitTenant(tenant: string, revision: string) {
  return waitForArgo(
    `Application nl-${tenant} Synced to ${revision.slice(0, 8)} and Healthy`,
    () => readApplication(kc, `nl-${tenant}`),
    (app) =>
      app?.status?.sync?.status === "Synced" &&
      tenantHealthy(tenant, app) &&
      app.status.sync.revision === revision &&
      app.status.operationState?.phase !== "Running",
    {
      timeoutMs: 180_000,
      describe: describeApplication,
      refresh: async () => {
        if (await readApplication(kc, `nl-${tenant}`)) await refreshApplication(kc, `nl-${tenant}`);
        else await refreshApplicationSet(kc, "neurallog-tenants");
      },
    },
  );
}

async function timed<T>(scenario: string, started: number, wait: Promise<T>): Promise<T> {
  const value = await wait;
  timings[scenario] = Date.now() - started;
  return value;
}

describe("real Argo CD syncs the deployment repo that neurallog publish writes", () => {
  beforeAll(async () => {
    // The tenants repo a platform team keeps: the example tenants, its platform file naming this deployment repo.
    cpSync(EXAMPLE_TENANTS_DIR, tenantsDir, { recursive: true });
    const platformFile = join(tenantsDir, "_platform.yaml");
    writeFileSync(
      platformFile,
      readFileSync(platformFile, "utf8").replaceAll(PLACEHOLDER_REPO_URL, deployUrl),
    );
    await simpleGit(tenantsRepo).init(["--initial-branch=main"]);
    tenantsGit = simpleGit(tenantsRepo);
    await merge("tenants");
    await simpleGit().init(["--bare", "--initial-branch=main", deployRepo]);
    const rendered = join(scratch, "rendered");
    await runSynth(tenantsDir, rendered);
    await ensureStorageClasses(
      kc,
      storageClassesNamed([...readRenderedRepo(rendered).tenants.values()].flatMap(objectsOf)),
    );
  }, 120_000);

  afterAll(() => {
    console.log(`argocd: publish → Synced+Healthy (ms): ${JSON.stringify(timings)}`);
  });

  it("the app-of-apps bootstrap creates the AppProjects and the ApplicationSet, and every example tenant syncs", async () => {
    const started = Date.now();
    const revision = await publishMain();
    const applied = await applyBootstrap(kc, deployUrl);
    expect(applied.sort()).toEqual([
      "AppProject argocd/neurallog-platform",
      "Application argocd/neurallog-platform",
      "Application argocd/neurallog-tenants",
    ]);
    await waitTenantsApp(revision);
    for (const tenant of examples) expect(await readAppProject(kc, `nl-${tenant}`), tenant).toBeDefined();
    expect(await readApplicationSet(kc, "neurallog-tenants")).toBeDefined();
    await waitSyncedAndHealthy(kc, "neurallog-platform", revision);
    await timed(
      "bootstrap (3 example tenants + platform)",
      started,
      Promise.all(examples.map((tenant) => waitTenant(tenant, revision))),
    );
    // Every resource but the autoscaled tenants' HPAs is Healthy in Argo CD's own resource tree; those HPAs turn
    // Degraded once the HPA controller first fails to read metrics (its 15 s sync), in its own words.
    const tree = (tenant: string) => readResourceTree(inject("argocdRedis"), `nl-${tenant}`);
    for (const tenant of AUTOSCALED) {
      const hpa = await waitForArgo(
        `the HPA of ${tenant} to report the missing metrics API`,
        async () => (await tree(tenant)).find((node) => node.kind === "HorizontalPodAutoscaler"),
        (node) => node?.health?.status === "Degraded",
        { timeoutMs: 90_000, describe: (node) => JSON.stringify(node?.health) },
      );
      expect(hpa?.health?.message).toMatch(/unable to fetch metrics from resource metrics API/);
    }
    for (const tenant of examples) {
      const unhealthy = (await tree(tenant))
        .filter((node) => node.health && node.health.status !== "Healthy")
        .map((node) => `${node.kind}/${node.name} ${node.health?.status}`)
        .sort();
      expect(unhealthy, tenant).toEqual([
        ...(AUTOSCALED.has(tenant) ? [`HorizontalPodAutoscaler/${tenant}-server Degraded`] : []),
        `Tenant/${tenant} Progressing`,
      ]);
    }
    for (const tenant of examples) {
      const live = await core.readNamespace({ name: namespaceOf(tenant) });
      expect(live.metadata?.labels, tenant).toMatchObject({
        "pod-security.kubernetes.io/enforce": "restricted",
      });
    }
  }, 300_000);

  it("what Argo CD accepts also passes strict server-side apply with no admission warnings (Argo CD's SSA takes a misspelled field)", async () => {
    const rendered = readRenderedRepo(join(scratch, "rendered"));
    const objects = [...rendered.tenants.values(), rendered.argocd, rendered.platform].flatMap(objectsOf);
    // As Argo CD's own field manager: another manager would conflict on what Argo CD owns (an atomic list such as
    // volumeClaimTemplates differs from git once defaulted); a dry run takes no ownership. And as Argo CD's user:
    // the Tenant admission policy (installed by the platform application) admits no one else.
    await applyManifests(asArgoCd(kc), syncOrder(objects), {
      fieldManager: "argocd-controller",
      dryRun: true,
    });
  });

  it("sync waves put the data (quota, Redis and its volume) before the workloads, and backups last", async () => {
    // Argo CD applies a wave only once the previous one is healthy, then waits ARGOCD_SYNC_WAVE_DELAY (2 s), so
    // creation times (1 s resolution) of objects in successive waves are strictly increasing.
    const namespace = namespaceOf("acme");
    const created = async (list: Promise<{ items: KubernetesObject[] }>, name: string) => {
      const item = (await list).items.find((o) => o.metadata?.name === name);
      expect(item, name).toBeDefined();
      return new Date(item!.metadata!.creationTimestamp!).getTime();
    };
    const apps = kc.makeApiClient(AppsV1Api);
    const quota = await created(core.listNamespacedResourceQuota({ namespace }), "neurallog-quota");
    const redis = await created(apps.listNamespacedStatefulSet({ namespace }), "acme-redis");
    const server = await created(apps.listNamespacedDeployment({ namespace }), "acme-server");
    const backup = await created(
      kc.makeApiClient(BatchV1Api).listNamespacedCronJob({ namespace }),
      "acme-backup",
    );
    expect(quota).toBeLessThan(redis);
    expect(redis).toBeLessThan(server);
    expect(server).toBeLessThan(backup);
  });

  it("an Ingress without a load balancer address is Healthy by the shipped customization, so wave 2 is not held back", async () => {
    const tree = await readResourceTree(inject("argocdRedis"), "nl-acme");
    const ingress = tree.find((r) => r.kind === "Ingress");
    expect(ingress?.health).toEqual({
      status: "Healthy",
      message: "no load balancer address reported (not gated: see NeuralLog argocd/argocd-cm-patch.yaml)",
    });
    const live = await kc
      .makeApiClient(NetworkingV1Api)
      .readNamespacedIngress({ name: ingress!.name!, namespace: namespaceOf("acme") });
    expect(live.status?.loadBalancer?.ingress ?? []).toEqual([]);
    // The backup CronJob and claim (wave 2) were applied: the previous test found the CronJob.
  });

  it("a tenant added by pull request, merged and published, appears as a new Application and its namespace", async () => {
    const started = Date.now();
    const flow = await addTenantByPullRequest({
      repo: tenantsRepo,
      tenants: tenantsDir,
      deployRepo,
      newTenant,
    });
    expect([flow.validate.code, flow.diff.code, flow.publish.code]).toEqual([0, 2, 0]);
    const [commit] = flow.deployAfter;
    expect(commit!.files.sort()).toEqual(addedPaths(flow.diff.out));
    await waitTenantsApp(commit!.hash);
    expect(await readAppProject(kc, `nl-${newTenant}`)).toBeDefined();
    await timed("new tenant by pull request", started, waitTenant(newTenant, commit!.hash));
    const live = await core.readNamespace({ name: namespaceOf(newTenant) });
    expect(live.status?.phase).toBe("Active");
  }, 300_000);

  it("a quota change in git reaches the live ResourceQuota", async () => {
    const started = Date.now();
    editTenant("acme", (spec) => {
      spec.quota = { hard: { "requests.cpu": "7" } };
    });
    await merge("raise acme's cpu quota");
    const revision = await publishMain();
    await timed("quota change", started, waitTenant("acme", revision));
    const quota = await core.readNamespacedResourceQuota({ name: "neurallog-quota", namespace: "nl-acme" });
    expect(quota.spec?.hard?.["requests.cpu"]).toBe("7");
  }, 240_000);

  it("a hand edit of a synced object is reverted by self-heal", async () => {
    await ObjectApi.forConfig(kc).patch(
      {
        apiVersion: "v1",
        kind: "ResourceQuota",
        metadata: { name: "neurallog-quota", namespace: "nl-acme" },
        spec: { hard: { "requests.cpu": "1" } },
      } as KubernetesObject,
      undefined,
      undefined,
      "someone-with-kubectl",
      undefined,
      PatchStrategy.MergePatch,
    );
    // No refresh, no new commit: the controller sees the live change and puts git's value back.
    await waitForArgo(
      "self-heal of ResourceQuota nl-acme/neurallog-quota",
      () => core.readNamespacedResourceQuota({ name: "neurallog-quota", namespace: "nl-acme" }),
      (quota) => quota.spec?.hard?.["requests.cpu"] === "7",
      { timeoutMs: 120_000, describe: (quota) => JSON.stringify(quota.spec?.hard) },
    );
    await waitTenant("acme", await head());
  }, 180_000);

  it("an AppProject refuses an object outside its tenant's namespace", async () => {
    // A commit straight into the deployment repo (what review and publish exist to prevent): a ConfigMap in
    // acme's folder aimed at globex's namespace.
    const work = join(scratch, "deploy-work");
    await simpleGit().clone(deployRepo, work);
    const git = simpleGit(work);
    const intruder = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "intruder", namespace: "nl-globex" },
      data: { from: "acme" },
    };
    writeFileSync(join(work, "tenants/acme/configmap-intruder.yaml"), stringify(intruder));
    await git.add(".").commit("acme reaches into globex");
    await git.push("origin", "main");
    const revision = await head();
    const app = await waitForArgo(
      "nl-acme to refuse the intruder",
      () => readApplication(kc, "nl-acme"),
      (a) =>
        a?.status?.sync?.revision === revision &&
        JSON.stringify(a.status).includes("namespace nl-globex is not permitted in project 'nl-acme'"),
      {
        timeoutMs: 120_000,
        describe: describeApplication,
        refresh: () => refreshApplication(kc, "nl-acme"),
      },
    );
    expect(app?.status?.sync?.status).toBe("OutOfSync");
    const globex = await core.listNamespacedConfigMap({ namespace: "nl-globex" });
    expect(globex.items.map((c) => c.metadata?.name)).not.toContain("intruder");

    // Publishing the tenants repo again puts git back to what synth renders; acme syncs again.
    rmSync(join(work, "tenants/acme/configmap-intruder.yaml"));
    await git.add(["-A", "."]).commit("revert the intruder");
    await git.push("origin", "main");
    await waitTenant("acme", await head());
  }, 240_000);

  it("decommission, then removal: the Application and AppProject go, the namespace and its volumes stay", async () => {
    const started = Date.now();
    editTenant(newTenant, (spec) => {
      spec.decommission = true;
    });
    await merge(`decommission ${newTenant}`);
    const decommissioned = await publishMain();
    await timed("decommission", started, waitTenant(newTenant, decommissioned));
    const namespace = namespaceOf(newTenant);
    // Its name carries a hash of its spec (charts-src/constructs/backup.ts); Argo CD waited for it (Job health).
    const jobs = await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace });
    const finalBackups = jobs.items.filter((j) => j.metadata?.name?.startsWith(`${newTenant}-final-`));
    expect(finalBackups.map((j) => j.status?.succeeded)).toEqual([1]);
    const claimsBefore = await core.listNamespacedPersistentVolumeClaim({ namespace });
    expect(claimsBefore.items.length).toBeGreaterThan(0);

    rmSync(join(tenantsDir, `${newTenant}.yaml`));
    await merge(`remove ${newTenant}`);
    const removedAt = Date.now();
    const removed = await publishMain();
    await waitSyncedAndHealthy(kc, "neurallog-tenants", removed);
    expect(await readAppProject(kc, `nl-${newTenant}`)).toBeUndefined();
    await timed(
      "removal",
      removedAt,
      waitForArgo(
        `Application nl-${newTenant} deleted`,
        () => readApplication(kc, `nl-${newTenant}`),
        (app) => app === undefined,
        {
          timeoutMs: 120_000,
          describe: describeApplication,
          refresh: () => refreshApplicationSet(kc, "neurallog-tenants"),
        },
      ),
    );
    const live = await core.readNamespace({ name: namespace });
    expect(live.status?.phase).toBe("Active");
    expect(live.metadata?.deletionTimestamp).toBeUndefined();
    const claimsAfter = await core.listNamespacedPersistentVolumeClaim({ namespace });
    expect(
      claimsAfter.items.map((c) => [c.metadata?.name, c.status?.phase, c.metadata?.deletionTimestamp]),
    ).toEqual(claimsBefore.items.map((c) => [c.metadata?.name, "Bound", undefined]));
    // The other tenants are untouched.
    for (const tenant of examples) await waitTenant(tenant, removed);
  }, 300_000);
});
