/**
 * Reads the desired state from the tenant ConfigMap that synth renders (`contracts/tenant-configmap.ts` defines
 * the format: `data["tenant.json"]`, a `TenantDesiredState`), into the list of desired objects drift is judged
 * against.
 */
import type { V1ConfigMap } from "@kubernetes/client-node";
import { TENANT_API_VERSION } from "../../contracts/resolved-tenant.ts";
import {
  DESIRED_STATE_KEY as STATE_KEY,
  DESIRED_STATE_KIND as STATE_KIND,
  type TenantDesiredState,
} from "../../contracts/tenant-configmap.ts";

const STATE_API_VERSION = TENANT_API_VERSION;

/** The kinds whose drift the controller watches, with the API version it applies them with. */
export const DRIFT_KINDS = {
  ResourceQuota: "v1",
  LimitRange: "v1",
  NetworkPolicy: "networking.k8s.io/v1",
  // Synth renders none of these into a tenant namespace but the controller's own RoleBinding: every other one
  // there is an extra (a RoleBinding handing a tenant's ServiceAccount more rights, or a person access beside git).
  Role: "rbac.authorization.k8s.io/v1",
  RoleBinding: "rbac.authorization.k8s.io/v1",
} as const;
export type DriftKind = keyof typeof DRIFT_KINDS;

/**
 * The kinds self-heal restores. RBAC is reported only: the controller may not write RoleBindings (it could then
 * grant itself anything), so a changed or missing one waits for Argo CD's next sync.
 */
export const SELF_HEALED_KINDS: ReadonlySet<DriftKind> = new Set([
  "ResourceQuota",
  "LimitRange",
  "NetworkPolicy",
]);

/** What drift compares of an RBAC binding, which has no spec: its role and its subjects, as a spec. */
export function rbacSpec(binding: { roleRef?: unknown; subjects?: unknown }): Record<string, unknown> {
  return { roleRef: binding.roleRef, subjects: binding.subjects ?? [] };
}

/** One desired object, with what server-side apply needs to restore it. */
export interface DesiredObject {
  readonly apiVersion: string;
  readonly kind: DriftKind;
  readonly name: string;
  readonly spec: Readonly<Record<string, unknown>>;
}

export interface DesiredState {
  readonly state: TenantDesiredState;
  readonly objects: readonly DesiredObject[];
}

export class DesiredStateError extends Error {}

/** Parses and checks the ConfigMap; a clear error naming what is missing or malformed. */
export function readDesiredState(configMap: V1ConfigMap): DesiredState {
  const where = `ConfigMap ${configMap.metadata?.namespace}/${configMap.metadata?.name}`;
  const text = configMap.data?.[STATE_KEY];
  if (text === undefined) throw new DesiredStateError(`${where}: data key "${STATE_KEY}" is missing`);
  let state: TenantDesiredState;
  try {
    state = JSON.parse(text) as TenantDesiredState;
  } catch (error) {
    throw new DesiredStateError(`${where}: data key "${STATE_KEY}" is not JSON`, { cause: error });
  }
  if (state?.apiVersion !== STATE_API_VERSION || state.kind !== STATE_KIND) {
    throw new DesiredStateError(
      `${where}: "${STATE_KEY}" is not a ${STATE_API_VERSION} ${STATE_KIND} (got ${state?.apiVersion} ${state?.kind})`,
    );
  }
  const missing = ["tenant", "objects", "resourceQuota", "limitRange", "networkPolicies"].filter(
    (field) => (state as unknown as Record<string, unknown>)[field] === undefined,
  );
  if (missing.length > 0) throw new DesiredStateError(`${where}: "${STATE_KEY}" lacks ${missing.join(", ")}`);
  const object = (kind: DriftKind, o: { name: string; spec: Record<string, unknown> }, at: string) => {
    if (typeof o?.name !== "string" || typeof o.spec !== "object" || o.spec === null) {
      throw new DesiredStateError(`${where}: "${STATE_KEY}" ${at} needs a name and a spec`);
    }
    return { apiVersion: DRIFT_KINDS[kind], kind, name: o.name, spec: o.spec };
  };
  if (!Array.isArray(state.networkPolicies)) {
    throw new DesiredStateError(`${where}: "${STATE_KEY}" networkPolicies is not a list`);
  }
  // A ConfigMap rendered before synth rendered the controller's RoleBinding has no list: no RoleBinding desired.
  const roleBindings = state.roleBindings ?? [];
  if (!Array.isArray(roleBindings)) {
    throw new DesiredStateError(`${where}: "${STATE_KEY}" roleBindings is not a list`);
  }
  return {
    state,
    objects: [
      object("ResourceQuota", state.resourceQuota, "resourceQuota"),
      object("LimitRange", state.limitRange, "limitRange"),
      ...state.networkPolicies.map((p, i) => object("NetworkPolicy", p, `networkPolicies[${i}]`)),
      ...roleBindings.map((b, i) =>
        object("RoleBinding", { name: b?.name, spec: rbacSpec(b ?? {}) }, `roleBindings[${i}]`),
      ),
    ],
  };
}
