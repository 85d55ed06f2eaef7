/**
 * Everything `neurallog synth` renders for 20 generated tenants, proven against the real API server: accepted by
 * strict server-side apply with no admission warnings, Pod Security `restricted` enforced, and then actually
 * running on the KWOK nodes within the tenant's quota. Broken variants of the rendered objects fail with the API
 * server's own message.
 *
 * The example tenants are not applied here: real Argo CD syncs them (gitops-sync.cluster.test.ts), and a second
 * writer into the same namespaces would fight its self-heal. For the same reason the Argo CD and platform objects
 * (fixed names: the ApplicationSet `neurallog-tenants`, the controller in `neurallog-system`) are only dry-run.
 */
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppsV1Api, BatchV1Api, CoreV1Api, type KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AdmissionWarningError, ApplyRejectedError, applyManifests } from "./apply-manifests.ts";
import { asArgoCd } from "./argocd/argo-cd.ts";
import { syncOrder } from "./apply-order.ts";
import { lintArgoCd } from "./argocd-lint.ts";
import { clusterKubeConfig } from "./cluster-access.ts";
import { ensureStorageClasses } from "./cluster-bootstrap.ts";
import { namespaceProblems } from "./namespace-health.ts";
import {
  objectsOf,
  readRenderedRepo,
  runSynth,
  storageClassesNamed,
  writeGeneratedTenants,
  type RenderedRepo,
} from "./rendered-repo.ts";

const FIELD_MANAGER = "neurallog-synth-test";
const kc = clusterKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const scratch = mkdtempSync(join(tmpdir(), "nl-synth-cluster-"));
afterAll(() => rm(scratch, { recursive: true, force: true }));

function namespaceOf(objects: readonly KubernetesObject[], tenant: string): string {
  const namespace = objects.find((o) => o.kind === "Namespace")?.metadata?.name;
  if (!namespace) throw new Error(`tenant ${tenant} renders no Namespace`);
  return namespace;
}

/**
 * The namespaces the dry-run objects live in (Argo CD's, the platform's), made bare: a dry run cannot create a
 * namespace for the objects after it, and a bare namespace shares no field with the one Argo CD syncs.
 */
async function ensureNamespaces(objects: readonly KubernetesObject[]): Promise<void> {
  const needed = new Set(objects.map((o) => o.metadata?.namespace).filter((n): n is string => !!n));
  const namespaces = [...needed].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } }));
  await applyManifests(kc, namespaces, { fieldManager: "neurallog-test-environment" });
}

function proveRenderedTenants(label: string, tenants: readonly string[], prepare: () => string): void {
  describe(`neurallog synth (${label}) against the API server`, () => {
    let repo: RenderedRepo;

    beforeAll(async () => {
      const out = join(scratch, label.replace(/\W+/g, "-"));
      await runSynth(prepare(), out);
      repo = readRenderedRepo(out);
      const all = [...repo.tenants.values(), repo.argocd, repo.platform].flatMap(objectsOf);
      await ensureStorageClasses(kc, storageClassesNamed(all));
      await ensureNamespaces([...objectsOf(repo.argocd), ...objectsOf(repo.platform)]);
    }, 180_000);

    it("renders a folder per tenant, the Argo CD objects and the platform", () => {
      expect([...repo.tenants.keys()]).toEqual(tenants);
      expect(repo.argocd.length).toBeGreaterThan(0);
      expect(repo.platform.length).toBeGreaterThan(0);
    });

    for (const tenant of tenants) {
      it(`tenant ${tenant}: every object is accepted with strict field validation and no warnings`, async () => {
        const objects = objectsOf(repo.tenants.get(tenant) ?? []);
        expect(objects.length).toBeGreaterThan(0);
        // As Argo CD: the Tenant admission policy admits Tenant writes from its application-controller only.
        await applyManifests(asArgoCd(kc), syncOrder(objects), { fieldManager: FIELD_MANAGER });
      });
    }

    it("every tenant namespace enforces Pod Security restricted", async () => {
      for (const [tenant, items] of repo.tenants) {
        const live = await core.readNamespace({ name: namespaceOf(objectsOf(items), tenant) });
        expect(live.metadata?.labels, tenant).toMatchObject({
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/warn": "restricted",
          "pod-security.kubernetes.io/audit": "restricted",
        });
      }
    });

    it("every tenant's workloads run on KWOK nodes within its quota: rollouts done, claims Bound, no FailedCreate", async () => {
      const namespaces = [...repo.tenants].map(([tenant, items]) => namespaceOf(objectsOf(items), tenant));
      await vi.waitFor(
        async () => {
          const problems = (await Promise.all(namespaces.map((ns) => namespaceProblems(kc, ns)))).flat();
          expect(problems).toEqual([]);
        },
        { timeout: 90_000, interval: 1_000 },
      );
      const batch = kc.makeApiClient(BatchV1Api);
      for (const [tenant, items] of repo.tenants) {
        const rendered = objectsOf(items).filter((o) => o.kind === "CronJob");
        const live = await batch.listNamespacedCronJob({ namespace: namespaceOf(objectsOf(items), tenant) });
        expect(live.items.map((c) => c.metadata?.name).sort(), tenant).toEqual(
          rendered.map((c) => c.metadata?.name).sort(),
        );
      }
    }, 120_000);

    it("the Argo CD objects are accepted by Argo CD's CRDs (dry run) and pass our lint", async () => {
      await applyManifests(kc, syncOrder(objectsOf(repo.argocd)), {
        fieldManager: FIELD_MANAGER,
        dryRun: true,
        overrideOwners: true,
      });
      expect(lintArgoCd(repo.tenants, repo.argocd)).toEqual([]);
    });

    it("the platform objects are accepted (dry run)", async () => {
      await applyManifests(kc, syncOrder(objectsOf(repo.platform)), {
        fieldManager: FIELD_MANAGER,
        dryRun: true,
        overrideOwners: true,
      });
    });
  });
}

const generated = Array.from({ length: 20 }, (_, i) => `gen-${String(i).padStart(2, "0")}`);
const generatedDir = join(scratch, "generated-tenants");
proveRenderedTenants("20 generated tenants", generated, () => {
  expect(writeGeneratedTenants(generatedDir, "gen", 20)).toEqual(generated);
  return generatedDir;
});

describe("a deliberately broken rendered manifest fails with the API server's own message", () => {
  let deployment: KubernetesObject & { spec: Record<string, unknown> };
  let namespace: string;

  beforeAll(async () => {
    const out = join(scratch, "broken");
    await runSynth(generatedDir, out);
    const [tenant, items] = [...readRenderedRepo(out).tenants][0] ?? [];
    if (!tenant || !items) throw new Error("synth rendered no tenant");
    const objects = objectsOf(items);
    namespace = namespaceOf(objects, tenant);
    const server = objects.find((o) => o.kind === "Deployment");
    if (!server) throw new Error(`tenant ${tenant} renders no Deployment`);
    // Applied to the tenant's real namespace (the generated suite creates it), under another name.
    deployment = structuredClone(server) as typeof deployment;
    deployment.metadata = { ...deployment.metadata, name: "broken-server" };
    await vi.waitFor(() => core.readNamespace({ name: namespace }), { timeout: 60_000, interval: 500 });
  }, 180_000);

  const containerOf = (d: KubernetesObject & { spec: Record<string, unknown> }): Record<string, unknown> => {
    const template = d.spec.template as { spec: { containers: Record<string, unknown>[] } };
    const container = template.spec.containers[0];
    if (!container) throw new Error("the rendered Deployment has no container");
    return container;
  };

  it("a misspelled field", async () => {
    const broken = structuredClone(deployment);
    broken.spec.replicaz = 1;
    const applying = applyManifests(kc, [broken], { fieldManager: FIELD_MANAGER, dryRun: true });
    await expect(applying).rejects.toThrow(ApplyRejectedError);
    await expect(applying).rejects.toThrow(/\.spec\.replicaz: field not declared in schema/);
  });

  it("a privileged container", async () => {
    const broken = structuredClone(deployment);
    // Alone: privileged together with the rendered allowPrivilegeEscalation=false is a validation error instead.
    containerOf(broken).securityContext = { privileged: true };
    const applying = applyManifests(kc, [broken], { fieldManager: FIELD_MANAGER, dryRun: true });
    await expect(applying).rejects.toThrow(AdmissionWarningError);
    await expect(applying).rejects.toThrow(
      /would violate PodSecurity "restricted:latest":.*privileged \(container/,
    );
  });

  it("a pod over quota", async () => {
    // More replicas of the rendered server than the tenant's quota holds: each pod is valid on its own (within
    // the LimitRange), so the refusal comes from the quota, after the apply succeeded.
    const broken = structuredClone(deployment);
    broken.spec.replicas = 60;
    try {
      await applyManifests(kc, [broken], { fieldManager: FIELD_MANAGER });
      await vi.waitFor(
        async () =>
          expect((await namespaceProblems(kc, namespace)).join("\n")).toMatch(
            /ReplicaSet broken-server-\w+: FailedCreate: .*exceeded quota/,
          ),
        { timeout: 30_000, interval: 500 },
      );
    } finally {
      await kc.makeApiClient(AppsV1Api).deleteNamespacedDeployment({ name: "broken-server", namespace });
    }
  });
});
