/**
 * The hardened pod and container settings every tenant and platform pod shares (Pod Security `restricted` and
 * then some): non-root with a fixed uid, read-only root filesystem with explicit writable volumes, no privilege
 * escalation, all capabilities dropped, seccomp RuntimeDefault, no service account token unless asked for.
 */
import * as k8s from "cdk8s-plus-33/lib/imports/k8s.js";
import type { ResolvedResources } from "../../contracts/resolved-tenant.ts";

export { NEURALLOG_UID, REDIS_UID } from "../../contracts/image-users.ts";

export function podSecurityContext(uid: number): k8s.PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: "RuntimeDefault" },
  };
}

export const containerSecurityContext: k8s.SecurityContext = {
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  privileged: false,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

export function resourceRequirements(resources: ResolvedResources): k8s.ResourceRequirements {
  const list = (r: { cpu: string; memory: string }) => ({
    cpu: k8s.Quantity.fromString(r.cpu),
    memory: k8s.Quantity.fromString(r.memory),
  });
  return { requests: list(resources.requests), limits: list(resources.limits) };
}

/** The writable /tmp every container gets on its read-only root filesystem. */
export const TMP_VOLUME: k8s.Volume = {
  name: "tmp",
  emptyDir: { sizeLimit: k8s.Quantity.fromString("64Mi") },
};
export const TMP_MOUNT: k8s.VolumeMount = { name: "tmp", mountPath: "/tmp" };

/** Pod-level settings shared by every pod we render. */
export function hardenedPodSpec(uid: number) {
  return {
    automountServiceAccountToken: false,
    securityContext: podSecurityContext(uid),
    enableServiceLinks: false,
  } as const;
}
