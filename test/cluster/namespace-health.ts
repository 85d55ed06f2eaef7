/**
 * Whether what was applied to a namespace actually runs, judged from what the real controllers report:
 * Deployments Available, StatefulSets Ready, claims Bound, pods placed on the expected nodes (KWOK's by default), quota status populated and
 * not exceeded, and no FailedCreate (quota, Pod Security or LimitRange rejections surface only there, after the
 * apply itself succeeded). Each problem names the object and carries the controller's or API server's own
 * message, so a failing test says why.
 */
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Deployment,
  type V1StatefulSet,
} from "@kubernetes/client-node";
import { parseQuantity } from "../../contracts/quantity.ts";

/** A quantity the API server reported; it always parses, so a failure here is a bug worth a loud error. */
function quantity(text: string): number {
  const value = parseQuantity(text);
  if (value === undefined) throw new Error(`the API server reported an unparseable quantity "${text}"`);
  return value;
}

function deploymentProblem(d: V1Deployment): string | undefined {
  const want = d.spec?.replicas ?? 1;
  const available = d.status?.conditions?.find((c) => c.type === "Available");
  if (available?.status !== "True")
    return `not Available (${available?.message ?? "no Available condition yet"})`;
  if ((d.status?.availableReplicas ?? 0) < want || (d.status?.updatedReplicas ?? 0) < want) {
    return `${d.status?.availableReplicas ?? 0}/${want} replicas available`;
  }
  return undefined;
}

function statefulSetProblem(s: V1StatefulSet): string | undefined {
  const want = s.spec?.replicas ?? 1;
  if ((s.status?.readyReplicas ?? 0) < want) return `${s.status?.readyReplicas ?? 0}/${want} replicas ready`;
  return undefined;
}

export interface HealthOptions {
  /** The node the namespace's pods must run on. Default: any KWOK node (`kwok-node-*`). */
  readonly node?: string;
}

/** Every problem in the namespace, as `Kind name: what is wrong`; empty when all is well. */
export async function namespaceProblems(
  kc: KubeConfig,
  namespace: string,
  options: HealthOptions = {},
): Promise<string[]> {
  const onExpectedNode = (name: string | undefined) =>
    options.node ? name === options.node : (name?.startsWith("kwok-node-") ?? false);
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const [deployments, replicaSets, statefulSets, claims, pods, quotas, events] = await Promise.all([
    apps.listNamespacedDeployment({ namespace }),
    apps.listNamespacedReplicaSet({ namespace }),
    apps.listNamespacedStatefulSet({ namespace }),
    core.listNamespacedPersistentVolumeClaim({ namespace }),
    core.listNamespacedPod({ namespace }),
    core.listNamespacedResourceQuota({ namespace }),
    core.listNamespacedEvent({ namespace, fieldSelector: "reason=FailedCreate" }),
  ]);
  const problems: string[] = [];
  for (const d of deployments.items) {
    const problem = deploymentProblem(d);
    if (problem) problems.push(`Deployment ${d.metadata?.name}: ${problem}`);
  }
  for (const rs of replicaSets.items) {
    const failure = rs.status?.conditions?.find((c) => c.type === "ReplicaFailure" && c.status === "True");
    if (failure) problems.push(`ReplicaSet ${rs.metadata?.name}: ${failure.reason}: ${failure.message}`);
  }
  for (const s of statefulSets.items) {
    const problem = statefulSetProblem(s);
    if (problem) problems.push(`StatefulSet ${s.metadata?.name}: ${problem}`);
  }
  // StatefulSets (and Jobs) have no failure condition; their controllers only record FailedCreate Events.
  for (const e of events.items) {
    const kind = e.involvedObject.kind;
    if (kind === "ReplicaSet") continue; // reported from its condition, which clears once creation succeeds
    // A namespace's `default` ServiceAccount appears a moment after the namespace; a pod created in between is
    // refused once and retried. That race is not a problem of the manifests.
    if (/serviceaccount "[^"]+" not found/.test(e.message ?? "")) continue;
    problems.push(`${kind} ${e.involvedObject.name}: FailedCreate: ${e.message}`);
  }
  for (const claim of claims.items) {
    if (claim.status?.phase !== "Bound") {
      problems.push(`PersistentVolumeClaim ${claim.metadata?.name}: ${claim.status?.phase ?? "no phase"}`);
    }
  }
  for (const pod of pods.items) {
    const phase = pod.status?.phase;
    if (phase === "Succeeded") continue;
    if (phase !== "Running") {
      const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
      const why = scheduled?.status === "False" ? `: ${scheduled.message}` : "";
      problems.push(`Pod ${pod.metadata?.name}: ${phase ?? "no phase"}${why}`);
    } else if (!onExpectedNode(pod.spec?.nodeName)) {
      const expected = options.node ?? "a KWOK node";
      problems.push(`Pod ${pod.metadata?.name}: running on ${pod.spec?.nodeName}, not ${expected}`);
    }
  }
  for (const quota of quotas.items) {
    const hard = quota.status?.hard;
    const used = quota.status?.used;
    if (!hard || !used) {
      problems.push(`ResourceQuota ${quota.metadata?.name}: status not populated by the quota controller`);
      continue;
    }
    for (const [resource, limit] of Object.entries(hard)) {
      const value = used[resource];
      if (value === undefined)
        problems.push(`ResourceQuota ${quota.metadata?.name}: no usage for ${resource}`);
      else if (quantity(value) > quantity(limit)) {
        problems.push(`ResourceQuota ${quota.metadata?.name}: ${resource} used ${value} > hard ${limit}`);
      }
    }
  }
  return problems;
}
