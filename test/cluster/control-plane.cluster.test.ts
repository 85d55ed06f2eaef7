/**
 * The test cluster behaves like a cluster: hand-written manifests of the kinds a tenant uses (a Pod Security
 * `restricted` namespace, a quota, a Deployment, a StatefulSet with a claim template, a CronJob) are admitted
 * and run on KWOK nodes, and the broken variants fail with the API server's own message.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  BatchV1Api,
  CoreV1Api,
  StorageV1Api,
  VersionApi,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AdmissionWarningError, ApplyRejectedError, applyManifests } from "./apply-manifests.ts";
import { clusterKubeConfig, uniqueName } from "./cluster-access.ts";
import { namespaceProblems } from "./namespace-health.ts";

const FIELD_MANAGER = "neurallog-cluster-test";
const kc = clusterKubeConfig();
const core = kc.makeApiClient(CoreV1Api);

function restrictedNamespace(name: string): KubernetesObject {
  const level = "restricted";
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name,
      labels: {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/warn": level,
        "pod-security.kubernetes.io/audit": level,
      },
    },
  };
}

/** A pod template that Pod Security `restricted` admits. */
function podTemplate(app: string, cpu = "100m", extra: Record<string, unknown> = {}) {
  return {
    metadata: { labels: { app } },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: app,
          image: "registry.invalid/neurallog/fixture:1",
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
          },
          resources: { requests: { cpu, memory: "64Mi" }, limits: { cpu, memory: "128Mi" } },
          ...extra,
        },
      ],
    },
  };
}

function deployment(namespace: string, name: string, replicas: number, cpu = "100m"): KubernetesObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: podTemplate(name, cpu) },
  } as KubernetesObject;
}

function fixture(namespace: string): KubernetesObject[] {
  const quota = {
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: { name: "tenant-quota", namespace },
    spec: {
      hard: {
        "requests.cpu": "2",
        "requests.memory": "2Gi",
        "limits.cpu": "4",
        "limits.memory": "4Gi",
        "requests.storage": "5Gi",
        persistentvolumeclaims: "2",
        pods: "10",
      },
    },
  };
  const statefulSet = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "redis", namespace },
    spec: {
      serviceName: "redis",
      replicas: 1,
      selector: { matchLabels: { app: "redis" } },
      template: podTemplate("redis", "100m", { volumeMounts: [{ name: "data", mountPath: "/data" }] }),
      volumeClaimTemplates: [
        {
          metadata: { name: "data" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
        },
      ],
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
    },
  };
  const jobTemplate = podTemplate("backup");
  const cronJob = {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name: "backup", namespace },
    spec: {
      schedule: "*/5 * * * *",
      jobTemplate: {
        spec: { template: { ...jobTemplate, spec: { ...jobTemplate.spec, restartPolicy: "Never" } } },
      },
    },
  };
  return [
    restrictedNamespace(namespace),
    quota,
    deployment(namespace, "server", 2),
    statefulSet,
    cronJob,
  ] as KubernetesObject[];
}

const here = dirname(fileURLToPath(import.meta.url));
const kubernetesVersion = /^KUBERNETES_VERSION=(\S+)$/m.exec(
  readFileSync(join(here, "versions.env"), "utf8"),
)?.[1];

describe("the test control plane", () => {
  const namespace = uniqueName("nl-fixture");
  const namespaces = [namespace];

  beforeAll(async () => {
    await applyManifests(kc, fixture(namespace), { fieldManager: FIELD_MANAGER });
  });

  afterAll(async () => {
    for (const name of namespaces) await core.deleteNamespace({ name }).catch(() => undefined);
  });

  it("is the Kubernetes release it was built from", async () => {
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe(kubernetesVersion);
  });

  it("has three Ready KWOK nodes and a default StorageClass", async () => {
    const nodes = await core.listNode({ labelSelector: "type=kwok" });
    expect(nodes.items.map((n) => n.metadata?.name).sort()).toEqual([
      "kwok-node-0",
      "kwok-node-1",
      "kwok-node-2",
    ]);
    const classes = await kc.makeApiClient(StorageV1Api).listStorageClass();
    const defaults = classes.items.filter(
      (c) => c.metadata?.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true",
    );
    expect(defaults.map((c) => c.metadata?.name)).toEqual(["standard"]);
  });

  it("runs the fixture: Deployment Available, StatefulSet Ready with its claim Bound, quota status populated", async () => {
    await vi.waitFor(async () => expect(await namespaceProblems(kc, namespace)).toEqual([]), {
      timeout: 60_000,
      interval: 500,
    });
    const claim = await core.readNamespacedPersistentVolumeClaim({ name: "data-redis-0", namespace });
    expect(claim.status?.phase).toBe("Bound");
    expect(claim.spec?.storageClassName).toBe("standard");
    const quota = await core.readNamespacedResourceQuota({ name: "tenant-quota", namespace });
    // 2 server pods + 1 redis pod, 100m each; one claim of 1Gi.
    expect(quota.status?.used).toMatchObject({
      pods: "3",
      "requests.cpu": "300m",
      persistentvolumeclaims: "1",
      "requests.storage": "1Gi",
    });
    const cronJob = await kc.makeApiClient(BatchV1Api).readNamespacedCronJob({ name: "backup", namespace });
    expect(cronJob.spec?.schedule).toBe("*/5 * * * *");
  });

  it("rejects a misspelled field with the API server's message instead of dropping it", async () => {
    const broken = deployment(namespace, "typo", 1) as KubernetesObject & { spec: Record<string, unknown> };
    broken.spec.replicass = 2;
    const applying = applyManifests(kc, [broken], { fieldManager: FIELD_MANAGER });
    await expect(applying).rejects.toThrow(ApplyRejectedError);
    await expect(applying).rejects.toThrow(/\.spec\.replicass: field not declared in schema/);
  });

  it("enforces Pod Security restricted: a privileged pod is refused with the API server's message", async () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "privileged", namespace },
      spec: {
        containers: [{ name: "c", image: "registry.invalid/x:1", securityContext: { privileged: true } }],
      },
    };
    await expect(applyManifests(kc, [pod], { fieldManager: FIELD_MANAGER })).rejects.toThrow(
      /violates PodSecurity "restricted:latest":.*privileged \(container/,
    );
  });

  it("fails on admission warnings: a Deployment whose pods Pod Security would refuse", async () => {
    const privileged = deployment(namespace, "privileged", 1);
    const spec = privileged as unknown as {
      spec: { template: { spec: { containers: Record<string, unknown>[] } } };
    };
    const container = spec.spec.template.spec.containers[0];
    if (container) container.securityContext = { privileged: true };
    const applying = applyManifests(kc, [privileged], { fieldManager: FIELD_MANAGER, dryRun: true });
    await expect(applying).rejects.toThrow(AdmissionWarningError);
    await expect(applying).rejects.toThrow(
      /would violate PodSecurity "restricted:latest":.*privileged \(container/,
    );
  });

  it("reports a pod over quota as FailedCreate with the quota controller's message", async () => {
    const crowded = uniqueName("nl-fixture-quota");
    namespaces.push(crowded);
    const [ns, quota] = fixture(crowded);
    await applyManifests(kc, [ns!, quota!, deployment(crowded, "greedy", 1, "3")], {
      fieldManager: FIELD_MANAGER,
    });
    await vi.waitFor(
      async () =>
        expect((await namespaceProblems(kc, crowded)).join("\n")).toMatch(
          /ReplicaSet greedy-\w+: FailedCreate: .*exceeded quota: tenant-quota, requested: requests\.cpu=3, used: requests\.cpu=0, limited: requests\.cpu=2/,
        ),
      { timeout: 30_000, interval: 500 },
    );
  });
});
