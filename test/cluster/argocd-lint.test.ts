import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { lintArgoCd, type SourcedObject } from "./argocd-lint.ts";

function object(
  kind: string,
  name: string,
  annotations: Record<string, string> = {},
  extra = {},
): KubernetesObject {
  return {
    apiVersion: "v1",
    kind,
    metadata: { name, namespace: "nl-a", annotations },
    ...extra,
  } as KubernetesObject;
}

const keep = "Prune=false,Delete=false";

function goodTenant(): SourcedObject[] {
  return [
    object("Namespace", "nl-a", {
      "argocd.argoproj.io/sync-wave": "-1",
      "argocd.argoproj.io/sync-options": keep,
    }),
    object("ResourceQuota", "quota", { "argocd.argoproj.io/sync-wave": "-1" }),
    object(
      "StatefulSet",
      "redis",
      { "argocd.argoproj.io/sync-wave": "1", "argocd.argoproj.io/sync-options": keep },
      { spec: { volumeClaimTemplates: [] } },
    ),
    object("Deployment", "server", { "argocd.argoproj.io/sync-wave": "2" }),
    object("CronJob", "backup", { "argocd.argoproj.io/sync-wave": "3" }),
  ].map((o) => ({ source: "tenants/a", object: o }));
}

function goodArgo(): SourcedObject[] {
  return [
    {
      source: "argocd/projects.yaml",
      object: {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "AppProject",
        metadata: { name: "tenant-a", namespace: "argocd" },
        spec: { destinations: [{ namespace: "nl-a", server: "https://kubernetes.default.svc" }] },
      } as KubernetesObject,
    },
    {
      source: "argocd/apps.yaml",
      object: {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "ApplicationSet",
        metadata: { name: "tenants", namespace: "argocd" },
        spec: {
          syncPolicy: { preserveResourcesOnDeletion: true },
          template: {
            spec: {
              project: "tenant-{{path.basename}}",
              syncPolicy: { syncOptions: ["ServerSideApply=true"] },
            },
          },
        },
      } as KubernetesObject,
    },
  ];
}

describe("lintArgoCd", () => {
  it("accepts a well-formed tenant and Argo CD objects", () => {
    expect(lintArgoCd(new Map([["a", goodTenant()]]), goodArgo())).toEqual([]);
  });

  it("reports a misspelled sync option, a non-integer wave and missing data protection, all at once", () => {
    const tenant = goodTenant();
    tenant[0]!.object.metadata!.annotations!["argocd.argoproj.io/sync-options"] = "Prune=flase,Delete=false";
    tenant[3]!.object.metadata!.annotations!["argocd.argoproj.io/sync-wave"] = "two";
    const findings = lintArgoCd(new Map([["a", tenant]]), goodArgo());
    expect(findings).toEqual(
      expect.arrayContaining([
        expect.stringContaining('unknown sync option "Prune=flase"'),
        expect.stringContaining('sync-wave "two" is not an integer'),
        expect.stringContaining("Namespace nl-a/nl-a: holds tenant data but lacks Prune=false"),
      ]),
    );
  });

  it("reports waves that would start the server before Redis", () => {
    const tenant = goodTenant();
    tenant[3]!.object.metadata!.annotations!["argocd.argoproj.io/sync-wave"] = "1";
    expect(lintArgoCd(new Map([["a", tenant]]), goodArgo())).toEqual([
      "tenant a: StatefulSet redis (wave 1) must sync in an earlier wave than Deployment server (wave 1)",
    ]);
  });

  it("reports unknown projects, wildcard destinations, unknown app sync options and missing preserve", () => {
    const argo = goodArgo();
    (argo[0]!.object as unknown as { spec: { destinations: unknown[] } }).spec.destinations = [
      { namespace: "*" },
    ];
    argo.push({
      source: "argocd/platform.yaml",
      object: {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Application",
        metadata: { name: "platform" },
        spec: { project: "platfrom", syncPolicy: { syncOptions: ["CreateNamespaces=true"] } },
      } as KubernetesObject,
    });
    const set = argo[1]!.object as unknown as { spec: { syncPolicy: Record<string, unknown> } };
    set.spec.syncPolicy = {};
    const findings = lintArgoCd(new Map(), argo);
    expect(findings).toHaveLength(4);
    expect(findings.join("\n")).toMatch(/destination namespace "\*"/);
    expect(findings.join("\n")).toMatch(/project "platfrom" is not an AppProject/);
    expect(findings.join("\n")).toMatch(/unknown sync option "CreateNamespaces=true"/);
    expect(findings.join("\n")).toMatch(/preserveResourcesOnDeletion must be true/);
  });
});
