import { describe, expect, it } from "vitest";
import { loadTenantTree } from "../../charts-src/model/load.ts";
import { findDangers, type KubeObject } from "../../gitops/dangerous-changes.ts";
import { EXAMPLE_TENANTS } from "./git-fixtures.ts";

const acme = (await loadTenantTree(EXAMPLE_TENANTS)).tenants.find(
  (t) => t.value.metadata.name === "acme",
)!.resolved!;

const quota = (hard: Record<string, string>): KubeObject => ({
  kind: "ResourceQuota",
  metadata: { name: "neurallog-quota", namespace: "nl-acme" },
  spec: { hard },
});
const pvc = (storage: string): KubeObject => ({
  kind: "PersistentVolumeClaim",
  metadata: { name: "acme-backups", namespace: "nl-acme" },
  spec: { resources: { requests: { storage } } },
});
const namespace: KubeObject = {
  kind: "Namespace",
  metadata: {
    name: "nl-acme",
    labels: {
      "neurallog.io/tenant": "acme",
      "app.kubernetes.io/part-of": "neurallog",
      "cost-center": "cc-1042",
    },
  },
};
const policy = (from: unknown[]): KubeObject => ({
  kind: "NetworkPolicy",
  metadata: { name: "extra", namespace: "nl-acme" },
  spec: { ingress: [{ from }] },
});

function dangers(base: Record<string, KubeObject>, head: Record<string, KubeObject>) {
  return findDangers({
    base: new Map(Object.entries(base)),
    head: new Map(Object.entries(head)),
    headTenant: acme,
    otherNamespaces: new Set(["nl-globex"]),
  }).map((d) => `${d.kind}: ${d.message}`);
}

describe("findDangers", () => {
  it("flags a quota cut below the workloads' footprint, with the arithmetic, and not a cut that still fits", () => {
    // acme (standard plan): 2 server replicas + 1 surge × 250m, Redis 100m, backup 100m = 0.95 CPU.
    const cut = dangers({ q: quota({ "requests.cpu": "2" }) }, { q: quota({ "requests.cpu": "500m" }) });
    expect(cut).toEqual([
      expect.stringMatching(
        /^quota-below-requests: ResourceQuota nl-acme\/neurallog-quota requests.cpu cut 2 → 500m, below .*= 950m$/,
      ),
    ]);
    expect(dangers({ q: quota({ "requests.cpu": "2" }) }, { q: quota({ "requests.cpu": "1" }) })).toEqual([]);
  });

  it("flags a namespace change, not an unchanged namespace or a new tenant", () => {
    const moved: KubeObject = { ...namespace, metadata: { ...namespace.metadata, name: "nl-acme-2" } };
    expect(dangers({ n: namespace }, { m: moved })).toContain(
      "namespace-change: tenant namespace changes nl-acme → nl-acme-2: everything is rendered into the new namespace, the old one and its data are left behind",
    );
    expect(dangers({ n: namespace }, { n: namespace })).toEqual([]);
    expect(dangers({}, { n: namespace })).toEqual([]);
  });

  it("flags a shrinking or vanishing volume, not a growing one", () => {
    expect(dangers({ v: pvc("20Gi") }, { v: pvc("10Gi") })).toEqual([
      expect.stringMatching(/^storage-shrink: .*20Gi → 10Gi/),
    ]);
    expect(dangers({ v: pvc("20Gi") }, {})).toEqual([expect.stringMatching(/^volume-deletion: /)]);
    expect(dangers({ v: pvc("20Gi") }, { v: pvc("30Gi") })).toEqual([]);
  });

  it("flags only newly added peers that reach beyond the tenant", () => {
    const everyTenant = { namespaceSelector: { matchLabels: { "app.kubernetes.io/part-of": "neurallog" } } };
    const ownTeam = {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "acme-collectors" } },
    };
    const sameCostCenter = { namespaceSelector: { matchLabels: { "cost-center": "cc-1042" } } };
    const other = { namespaceSelector: { matchLabels: { "neurallog.io/tenant": "globex" } } };
    const found = dangers(
      { ns: namespace, p: policy([everyTenant]) },
      {
        ns: namespace,
        p: policy([everyTenant, ownTeam, sameCostCenter, other, { ipBlock: { cidr: "::/0" } }]),
      },
    );
    expect(found).toEqual([
      "network-opened: NetworkPolicy nl-acme/extra newly allows ingress from the namespaces of tenant globex",
      "network-opened: NetworkPolicy nl-acme/extra newly allows ingress from ::/0 (every address, other tenants' pods included)",
    ]);
    expect(dangers({ ns: namespace }, { ns: namespace, p: policy([everyTenant]) })).toEqual([
      expect.stringContaining("app.kubernetes.io/part-of=neurallog (every tenant namespace carries them)"),
    ]);
  });
});
