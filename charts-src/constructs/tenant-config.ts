/**
 * The tenant ConfigMap (`neurallog-tenant`): the controller's desired state, read from the cluster so the
 * controller needs no git access. It carries the resolved tenant spec, the names of the objects the controller
 * watches, and the exact ResourceQuota, LimitRange and NetworkPolicy specs rendered next to it, so quota and
 * policy drift can be diffed (and, in self-heal mode, repaired) without git.
 */
import { Construct } from "constructs";
import type { ApiObject } from "cdk8s";
import { Lazy } from "cdk8s";
import * as k8s from "cdk8s-plus-33/lib/imports/k8s.js";
import type { ResolvedTenant } from "../model/resolved.ts";
import { TENANT_API_VERSION } from "../model/tenant-schema.ts";
import { canonicalJson } from "./canonical-json.ts";
import { objectNames, TENANT_CONFIGMAP_NAME, tenantMetadata } from "./metadata.ts";

export const DESIRED_STATE_KIND = "TenantDesiredState";
/** The key of the tenant ConfigMap holding the desired state JSON. */
export const DESIRED_STATE_KEY = "tenant.json";

/** The shape of `tenant.json` (what the controller parses). */
export interface TenantDesiredState {
  readonly apiVersion: typeof TENANT_API_VERSION;
  readonly kind: typeof DESIRED_STATE_KIND;
  readonly tenant: ResolvedTenant;
  /** Names of the rendered objects, in the tenant namespace. */
  readonly objects: ReturnType<typeof objectNames>;
  readonly resourceQuota: DesiredObject;
  readonly limitRange: DesiredObject;
  readonly networkPolicies: readonly DesiredObject[];
}

export interface DesiredObject {
  readonly name: string;
  readonly spec: Record<string, unknown>;
}

export interface DesiredStateSources {
  readonly resourceQuota: ApiObject;
  readonly limitRange: ApiObject;
  readonly networkPolicies: readonly ApiObject[];
}

function desired(object: ApiObject): DesiredObject {
  return { name: object.name, spec: object.toJson().spec };
}

export class TenantConfig extends Construct {
  constructor(scope: Construct, id: string, tenant: ResolvedTenant, sources: DesiredStateSources) {
    super(scope, id);
    // Lazy: the specs are read from the rendered objects themselves at synth time, so they cannot drift apart.
    const state = Lazy.any({
      produce: (): string =>
        canonicalJson({
          apiVersion: TENANT_API_VERSION,
          kind: DESIRED_STATE_KIND,
          tenant,
          objects: objectNames(tenant),
          resourceQuota: desired(sources.resourceQuota),
          limitRange: desired(sources.limitRange),
          networkPolicies: sources.networkPolicies.map(desired),
        } satisfies TenantDesiredState),
    });
    new k8s.KubeConfigMap(this, "desired-state", {
      metadata: tenantMetadata(tenant, "config", TENANT_CONFIGMAP_NAME),
      data: { [DESIRED_STATE_KEY]: state },
    });
  }
}
