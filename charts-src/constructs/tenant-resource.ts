/**
 * The `Tenant` resource (`tenants.neurallog.io`, ADR 0015): the CRD and the admission policy that keeps Tenant
 * objects on the GitOps path, both rendered with the platform, and the one Tenant object of each tenant, rendered
 * into that tenant's namespace (its Argo CD application), its spec the tenant file's spec as written.
 *
 * The CRD's schema is generated from the tenant model (`../model/crd-schema.ts`). Its status is the controller's
 * (status subresource, `contracts/tenant-status.ts`); the printer columns answer `kubectl get tenants -A` at a
 * glance.
 */
import { ApiObject } from "cdk8s";
import { Construct } from "constructs";
import type { ResolvedPlatform } from "../../contracts/resolved-tenant.ts";
import {
  TENANT_API_VERSION,
  TENANT_CRD_NAME,
  TENANT_GROUP,
  TENANT_KIND,
  TENANT_PLURAL,
  TENANT_VERSION,
} from "../../contracts/tenant-status.ts";
import { tenantCrdSchema } from "../model/crd-schema.ts";
import type { SynthTenant } from "../model/resolve.ts";
import { MANAGED_BY, PART_OF, tenantMetadata } from "./metadata.ts";

export const TENANT_POLICY = "neurallog-tenants-from-git";
/** The ServiceAccount Argo CD's application-controller syncs with (the name every Argo CD install gives it). */
export const ARGOCD_APPLICATION_CONTROLLER = "argocd-application-controller";

const PLATFORM_LABELS = {
  "app.kubernetes.io/name": "neurallog",
  "app.kubernetes.io/part-of": PART_OF,
  "app.kubernetes.io/managed-by": MANAGED_BY,
};

const PRINTER_COLUMNS = [
  { name: "Plan", type: "string", jsonPath: ".status.plan" },
  { name: "Phase", type: "string", jsonPath: ".status.phase" },
  { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: "Last Backup", type: "date", jsonPath: ".status.lastBackup.time" },
  { name: "Quota", type: "string", jsonPath: ".status.quota.highest", description: "highest quota use" },
  {
    name: "Drift",
    type: "integer",
    jsonPath: ".status.drift.count",
    description: "objects differing from git",
  },
  // Declaring columns replaces the default ones, Age included.
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
];

/** The users that may create or change Tenant objects: Argo CD's application-controller only. */
export function gitOpsUsers(platform: ResolvedPlatform): string[] {
  return [`system:serviceaccount:${platform.argocd.namespace}:${ARGOCD_APPLICATION_CONTROLLER}`];
}

/** The CustomResourceDefinition (also installed by the test cluster's bootstrap, before any tenant is applied). */
export function tenantCrd() {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: TENANT_CRD_NAME,
      labels: { ...PLATFORM_LABELS, "app.kubernetes.io/component": "tenant-resource" },
      // Before the controller (wave 1), which watches Tenants, and kept if the platform app goes: deleting a
      // CRD deletes every object of its kind.
      annotations: {
        "argocd.argoproj.io/sync-wave": "-1",
        "argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
      },
    },
    spec: {
      group: TENANT_GROUP,
      scope: "Namespaced",
      names: {
        kind: TENANT_KIND,
        plural: TENANT_PLURAL,
        singular: "tenant",
        listKind: "TenantList",
        shortNames: ["nlt"],
      },
      versions: [
        {
          name: TENANT_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: tenantCrdSchema() },
          subresources: { status: {} },
          additionalPrinterColumns: PRINTER_COLUMNS,
        },
      ],
    },
  };
}

/** Platform side: the CRD, and the policy refusing Tenant writes that do not come from the GitOps path. */
export class TenantDefinition extends Construct {
  constructor(scope: Construct, id: string, platform: ResolvedPlatform) {
    super(scope, id);
    new ApiObject(this, "crd", tenantCrd());
    addPolicy(this, platform);
  }
}

/**
 * The main resource only (`tenants`, not `tenants/status`): the controller writes status through the
 * subresource, which this policy does not match, so it needs no exception. Everyone else — tenant teams with
 * edit rights in their namespace, cluster admins with kubectl — is refused with what to do instead.
 */
function addPolicy(scope: Construct, platform: ResolvedPlatform): void {
  const labels = { ...PLATFORM_LABELS, "app.kubernetes.io/component": "admission" };
  const users = gitOpsUsers(platform);
  new ApiObject(scope, "policy", {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: TENANT_POLICY, labels },
    spec: {
      failurePolicy: "Fail",
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: [TENANT_GROUP],
            apiVersions: ["*"],
            operations: ["CREATE", "UPDATE"],
            resources: [TENANT_PLURAL],
          },
        ],
      },
      validations: [
        {
          expression: `request.userInfo.username in ${JSON.stringify(users)}`,
          messageExpression:
            "'Tenant objects come from git: change tenants/' + object.metadata.name + '.yaml in the tenants " +
            "repository and let Argo CD sync it (refused for ' + request.userInfo.username + ')'",
          reason: "Forbidden",
        },
      ],
    },
  });
  new ApiObject(scope, "policy-binding", {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: TENANT_POLICY, labels },
    // Every namespace: a hand-made Tenant anywhere is refused, not only in tenant namespaces.
    spec: { policyName: TENANT_POLICY, validationActions: ["Deny"] },
  });
}

/** The tenant's own Tenant object, last in its application (see `SYNC_WAVE`). */
export class TenantResource extends Construct {
  constructor(scope: Construct, id: string, tenant: SynthTenant) {
    super(scope, id);
    new ApiObject(this, "tenant", {
      apiVersion: TENANT_API_VERSION,
      kind: TENANT_KIND,
      // The CRD comes with the platform application; on a first bootstrap a tenant application may sync before
      // it, and Argo CD's dry run would fail the whole sync on the unknown kind.
      metadata: tenantMetadata(tenant, "tenant", tenant.name, {
        "argocd.argoproj.io/sync-options": "SkipDryRunOnMissingResource=true",
      }),
      spec: structuredClone(tenant.fileSpec),
    });
  }
}
