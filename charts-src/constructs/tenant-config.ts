/**
 * The tenant ConfigMap (`neurallog-tenant`, its format in `contracts/tenant-configmap.ts`): the controller's desired state, read from the cluster so the
 * controller needs no git access. It carries the resolved tenant spec, the names of the objects the controller
 * watches, and the exact ResourceQuota, LimitRange and NetworkPolicy specs and RoleBindings rendered next to it,
 * so quota, policy and RBAC drift can be diffed (and quotas and policies, in self-heal mode, repaired) without git.
 *
 * It is built from the tenant's other objects after they are synthesized — not as a construct — so the specs
 * in it are the rendered ones byte for byte, and each object is serialized only once.
 */
import type { ResolvedTenant } from "../../contracts/resolved-tenant.ts";
import type { SynthTenant } from "../model/resolve.ts";
import { TENANT_API_VERSION } from "../../contracts/resolved-tenant.ts";
import {
  DESIRED_STATE_KEY,
  DESIRED_STATE_KIND,
  objectNames,
  TENANT_CONFIGMAP_NAME,
  type DesiredObject,
  type DesiredRoleBinding,
  type TenantDesiredState,
} from "../../contracts/tenant-configmap.ts";
import { canonicalJson, sortKeys } from "./canonical-json.ts";
import { tenantMetadata } from "./metadata.ts";

/** A rendered object as synth produces it (JSON). */
export interface RenderedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec?: Record<string, unknown>;
  readonly [field: string]: unknown;
}

function desired(objects: readonly RenderedObject[], kind: string): DesiredObject[] {
  return objects.filter((o) => o.kind === kind).map((o) => ({ name: o.metadata.name, spec: o.spec ?? {} }));
}

export function desiredState(
  synthTenant: ResolvedTenant | SynthTenant,
  objects: readonly RenderedObject[],
): TenantDesiredState {
  // The file's spec as written belongs to the Tenant object; the controller's desired state is the resolved one.
  const { fileSpec: _fileSpec, ...tenant } = synthTenant as SynthTenant;
  const [resourceQuota] = desired(objects, "ResourceQuota");
  const [limitRange] = desired(objects, "LimitRange");
  if (!resourceQuota || !limitRange)
    throw new Error(`tenant ${tenant.name}: no ResourceQuota or LimitRange rendered`);
  return {
    apiVersion: TENANT_API_VERSION,
    kind: DESIRED_STATE_KIND,
    tenant,
    objects: objectNames(tenant),
    resourceQuota,
    limitRange,
    networkPolicies: desired(objects, "NetworkPolicy"),
    roleBindings: objects
      .filter((o) => o.kind === "RoleBinding")
      .map((o) => ({
        name: o.metadata.name,
        roleRef: o.roleRef as DesiredRoleBinding["roleRef"],
        subjects: o.subjects as DesiredRoleBinding["subjects"],
      })),
  };
}

/** The `neurallog-tenant` ConfigMap, laid out like every other rendered object (sorted keys). */
export function desiredStateConfigMap(
  tenant: ResolvedTenant,
  objects: readonly RenderedObject[],
): RenderedObject {
  const metadata = sortKeys(
    tenantMetadata(tenant, "config", TENANT_CONFIGMAP_NAME),
  ) as RenderedObject["metadata"];
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata,
    data: { [DESIRED_STATE_KEY]: canonicalJson(desiredState(tenant, objects)) },
  };
}
