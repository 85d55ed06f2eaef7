/**
 * Rendered tenants running for real on the real node: the platform file pointed at the local images
 * (imagePullPolicy Never), a tenant whose server, Redis and backup pods select and tolerate the real node, applied
 * as Argo CD would (strict server-side apply, Namespace first), and short-lived client pods that report what they
 * could reach. Used by the real-node tests that need a tenant's pods to run, not only to be admitted.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  type V1Pod,
  type V1PodSpec,
} from "@kubernetes/client-node";
import { inject, vi } from "vitest";
import { parse } from "yaml";
import { tenantObjects } from "../../../charts-src/charts/tenant-chart.ts";
import { resolvePlatform, resolveTenant } from "../../../charts-src/model/resolve.ts";
import type { PlatformFile, TenantFile } from "../../../charts-src/model/tenant-schema.ts";
import {
  DESIRED_STATE_KEY,
  TENANT_CONFIGMAP_NAME,
  type TenantDesiredState,
} from "../../../contracts/tenant-configmap.ts";
import { generatedPasswordSecret, newRedisPassword } from "../../../controller/reconcile/redis-password.ts";
import { applyManifests } from "../apply-manifests.ts";
import { asArgoCd } from "../argocd/argo-cd.ts";
import { syncOrder } from "../apply-order.ts";
import { namespaceProblems } from "../namespace-health.ts";
import { LOCAL_IMAGES } from "./node-images.ts";
import { REAL_NODE_LABEL, REAL_NODE_NAME, REAL_NODE_TAINT } from "./real-node.ts";

export type RenderedObject = KubernetesObject & Record<string, unknown>;

export const ON_REAL_NODE = {
  nodeSelector: { [REAL_NODE_LABEL.key]: REAL_NODE_LABEL.value },
  tolerations: [{ key: REAL_NODE_TAINT.key, operator: "Exists" as const, effect: REAL_NODE_TAINT.effect }],
};

/** tenants/_platform.yaml with the local images, and whatever `edit` changes (e.g. a namespace of its own). */
export function localPlatform(edit: (spec: PlatformFile["spec"]) => void = () => {}): PlatformFile {
  const file = parse(
    readFileSync(new URL("../../../tenants/_platform.yaml", import.meta.url), "utf8"),
  ) as PlatformFile;
  file.spec.storageClassName = REAL_NODE_STORAGE_CLASS;
  file.spec.images = {
    server: LOCAL_IMAGES.neurallog.ref,
    redis: LOCAL_IMAGES.redis.ref,
    pullPolicy: "Never",
  };
  edit(file.spec);
  return file;
}

/** A small tenant, its pods on the real node, rendered by synth's own chart. */
export function renderTenantOnNode(
  name: string,
  platform: PlatformFile,
  spec: Partial<TenantFile["spec"]> = {},
): RenderedObject[] {
  const file = {
    apiVersion: "neurallog.io/v1alpha1",
    kind: "Tenant",
    metadata: { name },
    spec: {
      plan: "small",
      owners: [{ kind: "Group", name: "real-node-tests" }],
      ...spec,
      server: { ...ON_REAL_NODE, ...spec.server },
      redis: { ...ON_REAL_NODE, ...spec.redis },
      backup: { ...ON_REAL_NODE, ...spec.backup },
    },
  } as TenantFile;
  return tenantObjects(resolveTenant(file, platform), resolvePlatform(platform)) as RenderedObject[];
}

export function namespaceOf(objects: readonly RenderedObject[]): string {
  return objects.find((o) => o.kind === "Namespace")!.metadata!.name!;
}

async function waitForDefaultServiceAccount(core: CoreV1Api, namespace: string): Promise<void> {
  // Pods cannot be admitted before the namespace's default ServiceAccount exists.
  await vi.waitFor(() => core.readNamespacedServiceAccount({ name: "default", namespace }), {
    timeout: 30_000,
    interval: 200,
  });
}

/**
 * The real node's volumes: `local` PersistentVolumes in a class of their own (KWOK's provisioning stage skips it),
 * each a directory under the run directory, pinned to the real node and pre-bound to the claim that will use it —
 * what a platform with a local-volume provisioner gives a StatefulSet. Unlike hostPath, the kubelet applies the
 * pod's fsGroup to a local volume, so Redis (uid 10999) owns its data directory without help.
 */
export const REAL_NODE_STORAGE_CLASS = "neurallog-real-node-local";

async function ensureRealNodeStorageClass(kc: KubeConfig): Promise<void> {
  await applyManifests(
    kc,
    [
      {
        apiVersion: "storage.k8s.io/v1",
        kind: "StorageClass",
        metadata: { name: REAL_NODE_STORAGE_CLASS },
        provisioner: "kubernetes.io/no-provisioner",
        volumeBindingMode: "WaitForFirstConsumer",
        reclaimPolicy: "Retain",
      } as KubernetesObject,
    ],
    { fieldManager: "neurallog-test-environment" },
  );
}

interface ClaimNeed {
  readonly namespace: string;
  readonly name: string;
  readonly size: string;
}

/** Every claim the rendered objects will make: their PVCs and each StatefulSet's claim for ordinal 0. */
function claimsOf(objects: readonly RenderedObject[]): ClaimNeed[] {
  const needs: ClaimNeed[] = [];
  for (const o of objects) {
    const namespace = o.metadata!.namespace!;
    if (o.kind === "PersistentVolumeClaim") {
      const spec = o.spec as { resources: { requests: { storage: string } } };
      needs.push({ namespace, name: o.metadata!.name!, size: spec.resources.requests.storage });
    }
    if (o.kind === "StatefulSet") {
      const spec = o.spec as {
        volumeClaimTemplates?: {
          metadata: { name: string };
          spec: { resources: { requests: { storage: string } } };
        }[];
      };
      for (const template of spec.volumeClaimTemplates ?? []) {
        needs.push({
          namespace,
          name: `${template.metadata.name}-${o.metadata!.name}-0`,
          size: template.spec.resources.requests.storage,
        });
      }
    }
  }
  return needs;
}

/** Where the local volume of claim `namespace/name` lives on the real node (and on the host: same files). */
export function localVolumePath(namespace: string, claim: string): string {
  return join(dirname(inject("kubeconfig")), "node", "volumes", `${namespace}-${claim}`);
}

/** A local volume on the real node for each claim, under `<run directory>/node/volumes/`. */
async function provideLocalVolumes(kc: KubeConfig, objects: readonly RenderedObject[]): Promise<void> {
  await ensureRealNodeStorageClass(kc);
  const volumes = claimsOf(objects).map((claim) => {
    const path = localVolumePath(claim.namespace, claim.name);
    mkdirSync(path, { recursive: true });
    return {
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: { name: `local-${claim.namespace}-${claim.name}`.slice(0, 253) },
      spec: {
        capacity: { storage: claim.size },
        accessModes: ["ReadWriteOnce"],
        persistentVolumeReclaimPolicy: "Retain",
        storageClassName: REAL_NODE_STORAGE_CLASS,
        claimRef: {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          namespace: claim.namespace,
          name: claim.name,
        },
        local: { path },
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: REAL_NODE_LABEL.key, operator: "In", values: [REAL_NODE_LABEL.value] },
                ],
              },
            ],
          },
        },
      },
    } as KubernetesObject;
  });
  await applyManifests(kc, volumes, { fieldManager: "neurallog-test-environment" });
}

/**
 * Onboarding step 3 (docs/runbooks/onboarding.md): the tenant's API keys Secret, made outside git by an admin.
 * One key with every scope; returns it in plain text for the test's clients.
 */
async function createApiKeysSecret(core: CoreV1Api, objects: readonly RenderedObject[]): Promise<string> {
  const deployment = objects.find((o) => o.kind === "Deployment")!;
  const volumes = (
    deployment.spec as { template: { spec: { volumes: { secret?: { secretName: string } }[] } } }
  ).template.spec.volumes;
  const secretName = (volumes as { name: string; secret?: { secretName: string } }[]).find(
    (v) => v.name === "api-keys",
  )!.secret!.secretName;
  const key = randomBytes(24).toString("hex");
  const entry = {
    name: "real-node-test",
    key: `sha256:${createHash("sha256").update(key).digest("hex")}`,
    scopes: ["ingest", "read", "admin"],
  };
  await core.createNamespacedSecret({
    namespace: deployment.metadata!.namespace!,
    body: { metadata: { name: secretName }, stringData: { "api-keys.json": JSON.stringify([entry]) } },
  });
  return key;
}

/**
 * The tenant's Redis password Secret, as the running controller makes it (its own `generatedPasswordSecret` and
 * `newRedisPassword`), for tests that run no controller. A Secret the tenant file names is the platform team's
 * to provide; made the same way here, as their vault sync would.
 */
async function createRedisPasswordSecret(core: CoreV1Api, objects: readonly RenderedObject[]): Promise<void> {
  const configMap = objects.find(
    (o) => o.kind === "ConfigMap" && o.metadata?.name === TENANT_CONFIGMAP_NAME,
  )!;
  const state = JSON.parse(
    (configMap.data as Record<string, string>)[DESIRED_STATE_KEY]!,
  ) as TenantDesiredState;
  const namespace = namespaceOf(objects);
  await core.createNamespacedSecret({
    namespace,
    body: generatedPasswordSecret(namespace, state.tenant, newRedisPassword()),
  });
}

/** Real Argo CD's field manager: these tests sync by hand what Argo CD would, and change it the same way. */
const SYNC_MANAGER = "argocd-controller";

/**
 * A re-render of the tenant applied over the running one (as Argo CD syncs a merged change, and as Argo CD: the
 * Tenant admission policy admits no one else), Namespace aside.
 */
export async function applyRendered(kc: KubeConfig, objects: readonly RenderedObject[]): Promise<void> {
  await applyManifests(asArgoCd(kc), syncOrder(objects.filter((o) => o.kind !== "Namespace")), {
    fieldManager: SYNC_MANAGER,
  });
}

export interface RunningTenant {
  readonly namespace: string;
  /** An API key of the tenant with every scope, in plain text. */
  readonly apiKey: string;
}

/**
 * Applies a rendered tenant as Argo CD would after onboarding (API keys Secret made, volumes provisioned) and
 * waits until everything in it runs on the real node: Redis ready, the server Available through its own probes.
 * The Redis password Secret is made here unless `passwordBy` is "controller" (a controller runs and makes it).
 */
export async function runTenant(
  kc: KubeConfig,
  objects: readonly RenderedObject[],
  options: { readonly passwordBy?: "test" | "controller" } = {},
): Promise<RunningTenant> {
  const core = kc.makeApiClient(CoreV1Api);
  const namespace = namespaceOf(objects);
  const first = objects.filter((o) => o.kind === "Namespace");
  await applyManifests(kc, first, { fieldManager: SYNC_MANAGER });
  await waitForDefaultServiceAccount(core, namespace);
  const apiKey = await createApiKeysSecret(core, objects);
  if (options.passwordBy !== "controller") await createRedisPasswordSecret(core, objects);
  await provideLocalVolumes(kc, objects);
  await applyRendered(kc, objects);
  await waitUntilRunning(kc, namespace, 180_000);
  return { namespace, apiKey };
}

/** Until everything in the namespace runs on the real node (namespace-health.ts), or `timeoutMs` passed. */
export async function waitUntilRunning(kc: KubeConfig, namespace: string, timeoutMs: number): Promise<void> {
  await vi.waitFor(
    async () => {
      const problems = await namespaceProblems(kc, namespace, { node: REAL_NODE_NAME });
      if (problems.length > 0) throw new Error(`${namespace}: ${problems.join("; ")}`);
    },
    { timeout: timeoutMs, interval: 500 },
  );
}

/** A plain namespace (restricted Pod Security, no NetworkPolicy) for client pods. */
export async function createNamespace(
  kc: KubeConfig,
  name: string,
  labels: Record<string, string> = {},
): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({
    body: { metadata: { name, labels: { "pod-security.kubernetes.io/enforce": "restricted", ...labels } } },
  });
  await waitForDefaultServiceAccount(core, name);
  return name;
}

/** Restricted settings for client pods of our image on the real node. */
export function clientPodSpec(command: string[], extra: Partial<V1PodSpec> = {}): V1PodSpec {
  return {
    restartPolicy: "Never",
    ...ON_REAL_NODE,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } },
    containers: [
      {
        name: "client",
        image: LOCAL_IMAGES.neurallog.ref,
        imagePullPolicy: "Never",
        command,
        resources: {
          requests: { cpu: "10m", memory: "32Mi" },
          limits: { cpu: "250m", memory: "128Mi" },
        },
        securityContext: {
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
        },
      },
    ],
    ...extra,
  };
}

/** Creates `pod`, waits until it ended, and returns its phase and log. */
export async function runPod(
  kc: KubeConfig,
  namespace: string,
  pod: V1Pod,
  timeoutMs = 120_000,
): Promise<{ phase: string; log: string; pod: V1Pod }> {
  const core = kc.makeApiClient(CoreV1Api);
  const name = pod.metadata!.name!;
  await core.createNamespacedPod({ namespace, body: pod });
  const ended = await vi.waitFor(
    async () => {
      const live = await core.readNamespacedPod({ name, namespace });
      const phase = live.status?.phase;
      if (phase !== "Succeeded" && phase !== "Failed") throw new Error(`pod ${namespace}/${name} ${phase}`);
      return live;
    },
    { timeout: timeoutMs, interval: 500 },
  );
  const log = await core.readNamespacedPodLog({ name, namespace });
  return { phase: ended.status!.phase!, log, pod: ended };
}
