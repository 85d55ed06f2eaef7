/**
 * The one-time Argo CD bootstrap (argocd/) must fit what synth renders: it points at the deployment repo and
 * branch of the platform file, at the folders synth writes, and its AppProject admits every object rendered
 * into argocd/ and platform/ (Argo CD would refuse the sync otherwise).
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadTenantTree, validTree } from "../../charts-src/model/load.ts";
import { renderArgocd, renderPlatform } from "../../charts-src/render/synthesize.ts";
import { MANAGED_FOLDERS } from "../../gitops/deployment-repo.ts";
import { lintArgoCd } from "../cluster/argocd-lint.ts";
import { EXAMPLE_TENANTS } from "./git-fixtures.ts";

const BOOTSTRAP = path.join(import.meta.dirname, "../../argocd");
// Merged into the Argo CD install's own argocd-cm (kubectl patch), deliberately not a kustomization resource.
const ARGOCD_CM_PATCH = "argocd-cm-patch.yaml";
const CLUSTER_SCOPED = new Set([
  "Namespace",
  "ClusterRole",
  "ClusterRoleBinding",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "CustomResourceDefinition",
]);

async function bootstrapObjects(): Promise<{ source: string; object: KubernetesObject }[]> {
  const files = (await readdir(BOOTSTRAP)).filter(
    (f) => f.endsWith(".yaml") && f !== "kustomization.yaml" && f !== ARGOCD_CM_PATCH,
  );
  return Promise.all(
    files.sort().map(async (f) => ({
      source: `argocd/${f}`,
      object: parse(await readFile(path.join(BOOTSTRAP, f), "utf8")) as KubernetesObject,
    })),
  );
}

interface Spec {
  project?: string;
  source?: { repoURL: string; targetRevision: string; path: string };
  destination?: { namespace: string };
  sourceRepos?: string[];
  destinations?: { namespace: string }[];
  clusterResourceWhitelist?: { group: string; kind: string; name?: string }[];
  namespaceResourceWhitelist?: { group: string; kind: string }[];
}
const specOf = (o: KubernetesObject) => (o as { spec?: Spec }).spec ?? {};
const groupOf = (o: KubernetesObject) => (o.apiVersion?.includes("/") ? o.apiVersion.split("/")[0]! : "");

describe("argocd/ bootstrap", () => {
  it("lists every bootstrap file in its kustomization and passes the Argo CD lint", async () => {
    const kustomization = parse(await readFile(path.join(BOOTSTRAP, "kustomization.yaml"), "utf8")) as {
      resources: string[];
    };
    const objects = await bootstrapObjects();
    expect(kustomization.resources.sort()).toEqual(objects.map((o) => path.basename(o.source)).sort());
    expect(lintArgoCd(new Map(), objects)).toEqual([]);
  });

  it("points at the platform file's deployment repo and branch, and at folders synth renders", async () => {
    const platform = validTree(await loadTenantTree(EXAMPLE_TENANTS))!.platform;
    const objects = (await bootstrapObjects()).map((o) => o.object);
    const apps = objects.filter((o) => o.kind === "Application");
    expect(apps.map((a) => specOf(a).source?.path).sort()).toEqual(["argocd", "platform"]);
    for (const app of apps) {
      expect(MANAGED_FOLDERS).toContain(specOf(app).source!.path);
      expect(specOf(app).source).toMatchObject({
        repoURL: platform.deploymentRepo.url,
        targetRevision: platform.deploymentRepo.branch,
      });
      expect(app.metadata?.namespace).toBe(platform.argocd.namespace);
    }
    const project = objects.find((o) => o.kind === "AppProject")!;
    expect(specOf(project).sourceRepos).toEqual([platform.deploymentRepo.url]);
    expect(apps.map((a) => specOf(a).project)).toEqual(apps.map(() => project.metadata?.name));
  });

  it("admits, through its AppProject, every object synth renders into argocd/ and platform/", async () => {
    const tree = validTree(await loadTenantTree(EXAMPLE_TENANTS))!;
    const rendered = [...renderArgocd(tree.tenants, tree.platform), ...renderPlatform(tree.platform)].map(
      (f) => parse(f.content) as KubernetesObject,
    );
    const project = specOf((await bootstrapObjects()).find((o) => o.object.kind === "AppProject")!.object);
    const refused: string[] = [];
    for (const object of rendered) {
      const { kind, metadata } = object;
      const group = groupOf(object);
      if (CLUSTER_SCOPED.has(kind!)) {
        const allowed = project.clusterResourceWhitelist!.some(
          (w) => w.group === group && w.kind === kind && (w.name === undefined || w.name === metadata?.name),
        );
        if (!allowed) refused.push(`${kind} ${metadata?.name}`);
      } else {
        const kindAllowed = project.namespaceResourceWhitelist!.some(
          (w) => w.group === group && w.kind === kind,
        );
        const namespaceAllowed = project.destinations!.some((d) => d.namespace === metadata?.namespace);
        if (!kindAllowed || !namespaceAllowed)
          refused.push(`${kind} ${metadata?.namespace}/${metadata?.name}`);
      }
    }
    expect(rendered.length).toBeGreaterThan(5);
    expect(refused).toEqual([]);
  });
});
