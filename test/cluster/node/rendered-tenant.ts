/**
 * Rendered tenants running for real on the real node: the platform file pointed at the local images
 * (imagePullPolicy Never), a tenant whose server, Redis and backup pods select and tolerate the real node, applied
 * as Argo CD would (strict server-side apply, Namespace first), and short-lived client pods that report what they
 * could reach. Used by the real-node tests that need a tenant's pods to run, not only to be admitted.
 */
import { chownSync, mkdirSync, readFileSync } from "node:fs";
import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  type V1Pod,
  type V1PodSpec,
} from "@kubernetes/client-node";
import { vi } from "vitest";
import { parse } from "yaml";
import { tenantObjects } from "../../../charts-src/charts/tenant-chart.ts";
import { REDIS_UID } from "../../../charts-src/constructs/pod-security.ts";
import { resolvePlatform, resolveTenant } from "../../../charts-src/model/resolve.ts";
import type { PlatformFile, TenantFile } from "../../../charts-src/model/tenant-schema.ts";
import { applyManifests } from "../apply-manifests.ts";
import { namespaceProblems } from "../namespace-health.ts";
import { LOCAL_IMAGES } from "./node-images.ts";
import { REAL_NODE_LABEL, REAL_NODE_TAINT } from "./real-node.ts";

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
 * The test cluster's volumes are hostPath directories that the kubelet creates as root, and hostPath ignores
 * fsGroup: Redis (uid 999) could not write its AOF. So the StatefulSet's claim is created from its own template
 * first, and once bound its directory is made Redis's, as a real provisioner's volume would be.
 */
async function redisClaimReady(core: CoreV1Api, objects: readonly RenderedObject[]): Promise<void> {
  const statefulSet = objects.find((o) => o.kind === "StatefulSet") as
    | (RenderedObject & {
        spec: { volumeClaimTemplates: { metadata: { name: string }; spec: object }[] };
      })
    | undefined;
  if (!statefulSet) return;
  const namespace = statefulSet.metadata!.namespace!;
  for (const template of statefulSet.spec.volumeClaimTemplates) {
    const name = `${template.metadata.name}-${statefulSet.metadata!.name}-0`;
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: { metadata: { ...template.metadata, name }, spec: template.spec },
    });
    const volume = await vi.waitFor(
      async () => {
        const claim = await core.readNamespacedPersistentVolumeClaim({ name, namespace });
        if (claim.status?.phase !== "Bound") throw new Error(`claim ${name} ${claim.status?.phase}`);
        return core.readPersistentVolume({ name: claim.spec!.volumeName! });
      },
      { timeout: 30_000, interval: 200 },
    );
    const path = volume.spec!.hostPath!.path;
    mkdirSync(path, { recursive: true });
    chownSync(path, REDIS_UID, REDIS_UID);
  }
}

/** Applies a rendered tenant and waits until everything in it runs (Redis ready, server Available). */
export async function runTenant(kc: KubeConfig, objects: readonly RenderedObject[]): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const namespace = namespaceOf(objects);
  const first = objects.filter((o) => o.kind === "Namespace");
  await applyManifests(kc, first, { fieldManager: "argocd-stand-in" });
  await waitForDefaultServiceAccount(core, namespace);
  await redisClaimReady(core, objects);
  await applyManifests(
    kc,
    objects.filter((o) => o.kind !== "Namespace"),
    { fieldManager: "argocd-stand-in" },
  );
  await vi.waitFor(
    async () => {
      const problems = await namespaceProblems(kc, namespace);
      if (problems.length > 0) throw new Error(`${namespace}: ${problems.join("; ")}`);
    },
    { timeout: 180_000, interval: 500 },
  );
  return namespace;
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
