/**
 * The order Argo CD (gitops-engine) applies objects in: sync wave, then kind (Helm's install order: Namespace,
 * policies and quota, ... workloads, Ingress), then name. For tests that apply rendered objects with the strict
 * applier themselves (synth-tenants.cluster.test.ts), so that a Namespace, its quota and LimitRange exist before
 * the pods they govern, as under Argo CD.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { objectRef } from "./apply-manifests.ts";

export const SYNC_WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave";

/** gitops-engine's kind order within a wave. Unknown kinds go last. */
const KIND_ORDER = [
  "Namespace",
  "NetworkPolicy",
  "ResourceQuota",
  "LimitRange",
  "PodSecurityPolicy",
  "PodDisruptionBudget",
  "ServiceAccount",
  "Secret",
  "SecretList",
  "ConfigMap",
  "StorageClass",
  "PersistentVolume",
  "PersistentVolumeClaim",
  "CustomResourceDefinition",
  "ClusterRole",
  "ClusterRoleList",
  "ClusterRoleBinding",
  "ClusterRoleBindingList",
  "Role",
  "RoleList",
  "RoleBinding",
  "RoleBindingList",
  "Service",
  "DaemonSet",
  "Pod",
  "ReplicationController",
  "ReplicaSet",
  "Deployment",
  "HorizontalPodAutoscaler",
  "StatefulSet",
  "Job",
  "CronJob",
  "IngressClass",
  "Ingress",
  "APIService",
];

export function syncWave(object: KubernetesObject): number {
  const raw = object.metadata?.annotations?.[SYNC_WAVE_ANNOTATION] ?? "0";
  const wave = Number(raw);
  if (!Number.isInteger(wave)) throw new Error(`${objectRef(object)}: sync-wave "${raw}" is not an integer`);
  return wave;
}

function kindRank(kind: string | undefined): number {
  const index = KIND_ORDER.indexOf(kind ?? "");
  return index === -1 ? KIND_ORDER.length : index;
}

/** Argo CD's apply order: wave, kind, name. */
export function syncOrder(objects: readonly KubernetesObject[]): KubernetesObject[] {
  return [...objects].sort(
    (a, b) =>
      syncWave(a) - syncWave(b) ||
      kindRank(a.kind) - kindRank(b.kind) ||
      (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""),
  );
}
