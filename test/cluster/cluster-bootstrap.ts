/**
 * What a fresh test cluster gets before anyone uses it: the fake nodes KWOK manages, the default StorageClass
 * that KWOK provisions volumes for, the real Argo CD CRDs (so Applications, ApplicationSets and AppProjects
 * are checked against Argo CD's own schemas), the Prometheus operator's ServiceMonitor and PrometheusRule CRDs, and
 * NeuralLog's Tenant CRD, as rendered into platform/ (a platform is installed before its tenants: every rendered
 * tenant has a Tenant object, and the controller watches them).
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ApiextensionsV1Api, CoreV1Api, type KubeConfig, type V1Node } from "@kubernetes/client-node";
import { tenantCrd } from "../../charts-src/constructs/tenant-resource.ts";
import { applyManifests } from "./apply-manifests.ts";
import { readManifestFile } from "./manifest-files.ts";

const here = dirname(fileURLToPath(import.meta.url));

export const BOOTSTRAP_FIELD_MANAGER = "neurallog-test-cluster";
export const NODE_LABEL_SELECTOR = "type=kwok";
const ZONES = ["zone-a", "zone-b", "zone-c"];

/** Where the vendored Argo CD CRDs live (refresh-crds.sh writes them; SOURCE.md says from where). */
export const ARGOCD_CRD_DIR = join(here, "argocd/crds");

/**
 * The Argo CD CRDs, vendored unmodified from the Argo CD module of ARGOCD_VERSION (versions.env), so the CRDs the
 * suite validates against, the Argo CD it runs and the version the platform pins are one version.
 */
export function argoCdCrdFiles(): string[] {
  const files = readdirSync(ARGOCD_CRD_DIR).filter((file) => file.endsWith("-crd.yaml"));
  if (files.length === 0)
    throw new Error(`no Argo CD CRDs (*-crd.yaml) in ${ARGOCD_CRD_DIR}: run refresh-crds.sh`);
  return files.sort().map((file) => join(ARGOCD_CRD_DIR, file));
}

/** Where the vendored Prometheus operator CRDs live (monitoring/refresh-crds.sh; SOURCE.md says from where). */
export const MONITORING_CRD_DIR = join(here, "monitoring/crds");

/**
 * The CRDs of the Prometheus operator kinds synth renders (ServiceMonitor, PrometheusRule), vendored unmodified from
 * the operator's module: the example platform enables them, so every rendered tenant carries a ServiceMonitor.
 */
export function monitoringCrdFiles(): string[] {
  const files = readdirSync(MONITORING_CRD_DIR).filter((file) => file.endsWith(".yaml"));
  if (files.length === 0)
    throw new Error(`no Prometheus operator CRDs (*.yaml) in ${MONITORING_CRD_DIR}: run refresh-crds.sh`);
  return files.sort().map((file) => join(MONITORING_CRD_DIR, file));
}

function fakeNode(index: number): V1Node {
  const name = `kwok-node-${index}`;
  const zone = ZONES[index % ZONES.length] ?? "zone-a";
  const capacity = { cpu: "16", memory: "64Gi", pods: "110", "ephemeral-storage": "200Gi" };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      // kwok --manage-nodes-with-annotation-selector picks nodes by this annotation.
      annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        type: "kwok",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "topology.kubernetes.io/zone": zone,
      },
    },
    // Deliberately no taint: the rendered workloads must schedule as they would on ordinary nodes.
    spec: {},
    status: { capacity, allocatable: capacity },
  };
}

async function waitForCrdsEstablished(
  kc: KubeConfig,
  names: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await api.readCustomResourceDefinition({ name });
      if (crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * Makes sure a StorageClass exists for each name (as a platform would have its `fast-ssd` or `backup-hdd`),
 * provisioned like the default class. A claim naming a class that does not exist would otherwise stay Pending,
 * which says something about the cluster, not about the manifests.
 */
export async function ensureStorageClasses(kc: KubeConfig, names: Iterable<string>): Promise<void> {
  const [template] = readManifestFile(join(here, "kwok/storage-class.yaml"));
  if (!template) throw new Error("kwok/storage-class.yaml is empty");
  // The default class is the template itself; re-applying it without its annotation would drop the default.
  const extra = [...new Set(names)].filter((name) => name !== template.metadata?.name);
  const classes = extra.map((name) => ({
    ...template,
    metadata: { name, labels: { "neurallog.test/storage-class": "extra" } },
  }));
  await applyManifests(kc, classes, { fieldManager: BOOTSTRAP_FIELD_MANAGER });
}

export interface BootstrapOptions {
  readonly nodes: number;
  /** Install the Argo CD and Prometheus operator CRDs (most of the bootstrap time). Default: true. The Tenant CRD always is. */
  readonly argoCdCrds?: boolean;
}

export async function bootstrapCluster(kc: KubeConfig, options: BootstrapOptions): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  // Created, not applied: a Node's status (its capacity) is kept on create, and KWOK keeps what it finds.
  for (let i = 0; i < options.nodes; i++) await core.createNode({ body: fakeNode(i) });

  await applyManifests(kc, readManifestFile(join(here, "kwok/storage-class.yaml")), {
    fieldManager: BOOTSTRAP_FIELD_MANAGER,
  });

  const crds = [
    tenantCrd(),
    ...(options.argoCdCrds === false
      ? []
      : [...argoCdCrdFiles(), ...monitoringCrdFiles()].flatMap((file) => readManifestFile(file))),
  ];
  // Server-side: the ApplicationSet CRD is larger than client-side apply's last-applied annotation allows.
  await applyManifests(kc, crds, { fieldManager: BOOTSTRAP_FIELD_MANAGER });
  await waitForCrdsEstablished(
    kc,
    crds.map((crd) => crd.metadata?.name ?? ""),
    30_000,
  );
}
