/**
 * The controller's write access to tenant namespaces, and nothing beyond them (ADR 0011): one ClusterRole,
 * `neurallog-controller-tenant`, rendered with the platform, and in every tenant namespace a RoleBinding
 * `neurallog-controller` to it, rendered with the tenant. The controller's cluster-wide ClusterRole only reads.
 *
 * What the tenant role grants, and why:
 * - create secrets: the tenant's generated Redis password Secret (`<tenant>-redis-auth`), created once and never
 *   read back (a create answered 409 means it exists), so the controller can make a Secret but read none;
 * - patch tenants/status: the Tenant's status (server-side apply through the status subresource); never the
 *   Tenant itself, which only Argo CD writes (ADR 0014);
 * - create/patch resourcequotas, limitranges and networkpolicies, in self-heal mode only (ADR 0005): server-side
 *   apply of a missing or drifted object.
 * Report-only and self-heal render the same RoleBinding; the mode only changes the ClusterRole's rules.
 */
import { Construct } from "constructs";
import * as k8s from "cdk8s-plus-33/lib/imports/k8s.js";
import type { ResolvedPlatform, ResolvedTenant } from "../../contracts/resolved-tenant.ts";
import type { DesiredRoleBinding } from "../../contracts/tenant-configmap.ts";
import { tenantMetadata } from "./metadata.ts";
import { TENANT_GROUP, TENANT_PLURAL } from "../../contracts/tenant-status.ts";

export const CONTROLLER_NAME = "neurallog-controller";
/** The ClusterRole every tenant namespace binds the controller to. */
export const CONTROLLER_TENANT_ROLE = "neurallog-controller-tenant";

/** What server-side apply of a missing or drifted object needs (see `KubeActions.applyObject`). */
const SELF_HEAL_WRITE = ["create", "patch"];

/** The tenant role's rules: secrets create always, quota and policy writes only in self-heal mode. */
export function controllerTenantRules(platform: ResolvedPlatform): k8s.PolicyRule[] {
  return [
    { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
    // The status subresource only (server-side apply is a patch); the Tenant itself is git's.
    { apiGroups: [TENANT_GROUP], resources: [`${TENANT_PLURAL}/status`], verbs: ["patch"] },
    ...(platform.controller.mode === "self-heal"
      ? [
          { apiGroups: [""], resources: ["resourcequotas", "limitranges"], verbs: SELF_HEAL_WRITE },
          { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: SELF_HEAL_WRITE },
        ]
      : []),
  ];
}

/** The RoleBinding of a tenant namespace, as rendered and as the tenant ConfigMap desires it. */
export function controllerRoleBinding(platform: ResolvedPlatform): DesiredRoleBinding {
  return {
    name: CONTROLLER_NAME,
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: CONTROLLER_TENANT_ROLE },
    subjects: [{ kind: "ServiceAccount", name: CONTROLLER_NAME, namespace: platform.controller.namespace }],
  };
}

/** In a tenant namespace: the controller's RoleBinding (with the policies, before the workloads). */
export class ControllerAccess extends Construct {
  constructor(scope: Construct, id: string, tenant: ResolvedTenant, platform: ResolvedPlatform) {
    super(scope, id);
    const { name, roleRef, subjects } = controllerRoleBinding(platform);
    new k8s.KubeRoleBinding(this, "role-binding", {
      metadata: tenantMetadata(tenant, "policy", name),
      roleRef,
      subjects: [...subjects],
    });
  }
}
