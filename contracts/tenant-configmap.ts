/**
 * The contract between synth and the controller: the tenant ConfigMap (`neurallog-tenant`) synth renders into
 * every tenant namespace, how it is labelled, and the desired state it carries (`data["tenant.json"]`). The
 * controller reads it from the cluster and so needs no git access and no part of synth.
 */
import type { ResolvedTenant, TENANT_API_VERSION } from "./resolved-tenant.ts";

export const PART_OF = "neurallog";
export const MANAGED_BY = "neurallog-synth";
/** On every object of a tenant; the controller's informers select the tenant's objects by it. */
export const TENANT_LABEL = "neurallog.io/tenant";

/** The tenant ConfigMap the controller reads its desired state from (a fixed name it can find in any namespace). */
export const TENANT_CONFIGMAP_NAME = "neurallog-tenant";
export const DESIRED_STATE_KIND = "TenantDesiredState";
/** The key of the tenant ConfigMap holding the desired state JSON. */
export const DESIRED_STATE_KEY = "tenant.json";

/** The names of a tenant's rendered objects, in the tenant namespace. */
export const objectNames = (tenant: Pick<ResolvedTenant, "name">) => {
  const t = tenant.name;
  return {
    redis: `${t}-redis`,
    redisHeadless: `${t}-redis-headless`,
    redisConfig: `${t}-redis-config`,
    /** The generated Redis password Secret (when the tenant file names none); the controller creates it. */
    redisAuth: `${t}-redis-auth`,
    /** Optional Secret of webhook signing secrets; each key K reaches the server as NEURALLOG_WEBHOOK_K. */
    webhookSecrets: `${t}-webhook-secrets`,
    server: `${t}-server`,
    serverConfig: `${t}-server-config`,
    backup: `${t}-backup`,
    backupVolume: `${t}-backups`,
    /** Prefix of the final backup Job; the Job's name ends in a hash of its spec (see backup.ts). */
    finalBackup: `${t}-final`,
  };
};

/** The shape of `tenant.json` (what the controller parses). */
export interface TenantDesiredState {
  readonly apiVersion: typeof TENANT_API_VERSION;
  readonly kind: typeof DESIRED_STATE_KIND;
  readonly tenant: ResolvedTenant;
  /** Names of the rendered objects, in the tenant namespace. */
  readonly objects: ReturnType<typeof objectNames>;
  readonly resourceQuota: DesiredObject;
  readonly limitRange: DesiredObject;
  /** In the order they were rendered: default deny first. */
  readonly networkPolicies: readonly DesiredObject[];
  /** The RoleBindings synth renders into the namespace (the controller's own); any other one is drift. */
  readonly roleBindings: readonly DesiredRoleBinding[];
}

/** A RoleBinding as rendered (RBAC objects have no spec: roleRef and subjects are their content). */
export interface DesiredRoleBinding {
  readonly name: string;
  readonly roleRef: { readonly apiGroup: string; readonly kind: string; readonly name: string };
  readonly subjects: readonly { readonly kind: string; readonly name: string; readonly namespace?: string }[];
}

export interface DesiredObject {
  readonly name: string;
  readonly spec: Record<string, unknown>;
}
