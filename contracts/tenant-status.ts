/**
 * The `Tenant` resource (`tenants.neurallog.io`, v1alpha1) as the cluster knows it: synth renders one per tenant
 * into the tenant's namespace (spec = the tenant file's spec), the controller writes its `status` through the
 * status subresource, `kubectl get tenants`, Argo CD's health check and `neurallog status` read it. The status
 * shape is defined once here (TypeBox): the CRD's schema is generated from it, the controller's type is its
 * `Static`.
 *
 * Status follows the Kubernetes API conventions: `conditions` with `type`, `status`, `reason`, `message`,
 * `lastTransitionTime` and `observedGeneration`; nothing in it moves with the clock alone (no "5m ago", no
 * observed-at stamp), so an unchanged tenant gives an unchanged status and the controller writes nothing.
 */
import Type, { type Static } from "typebox";
import { TENANT_API_VERSION } from "./resolved-tenant.ts";

export const TENANT_GROUP = "neurallog.io";
export const TENANT_VERSION = "v1alpha1";
export const TENANT_KIND = "Tenant";
export const TENANT_PLURAL = "tenants";
export const TENANT_CRD_NAME = `${TENANT_PLURAL}.${TENANT_GROUP}`;
export { TENANT_API_VERSION };

/** The cluster-wide collection (what the controller's informer lists and watches). */
export const TENANTS_PATH = `/apis/${TENANT_GROUP}/${TENANT_VERSION}/${TENANT_PLURAL}`;

/** One tenant's status subresource. */
export function tenantStatusPath(namespace: string, name: string): string {
  return `/apis/${TENANT_GROUP}/${TENANT_VERSION}/namespaces/${namespace}/${TENANT_PLURAL}/${name}/status`;
}

export const ConditionType = {
  /** Every other condition is True. */
  Ready: "Ready",
  /** The backup CronJob's last success is recent enough (Unknown while the first backup is pending). */
  BackupHealthy: "BackupHealthy",
  /** No quota resource at 95% or more, no pod refused by the quota. */
  QuotaHealthy: "QuotaHealthy",
  /** The objects git defines are as git defines them, and nothing else is there (drift). */
  InSync: "InSync",
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

/** The order conditions are written in (and Ready's reason is taken from the first that is not True). */
export const CONDITION_TYPES: readonly ConditionType[] = [
  ConditionType.Ready,
  ConditionType.BackupHealthy,
  ConditionType.QuotaHealthy,
  ConditionType.InSync,
];

/** Condition reasons (CamelCase, as the conventions ask); Argo CD's health check matches on some of them. */
export const ConditionReason = {
  AllHealthy: "AllHealthy",
  BackupSucceeded: "BackupSucceeded",
  BackupPending: "BackupPending",
  BackupStale: "BackupStale",
  BackupMissing: "BackupMissing",
  BackupCronJobMissing: "BackupCronJobMissing",
  BackupScheduleInvalid: "BackupScheduleInvalid",
  BackupsDisabled: "BackupsDisabled",
  BackupsSuspended: "BackupsSuspended",
  QuotaWithinLimits: "QuotaWithinLimits",
  QuotaNearLimit: "QuotaNearLimit",
  /** A resource at 100% of its quota, or pods refused by it: the tenant cannot grow. */
  QuotaExhausted: "QuotaExhausted",
  NoDrift: "NoDrift",
  DriftDetected: "DriftDetected",
  DesiredStateUnavailable: "DesiredStateUnavailable",
} as const;
export type ConditionReason = (typeof ConditionReason)[keyof typeof ConditionReason];

export const TenantPhase = {
  Active: "Active",
  Suspended: "Suspended",
  Decommissioning: "Decommissioning",
} as const;
export type TenantPhase = (typeof TenantPhase)[keyof typeof TenantPhase];

const Time = (description: string) => Type.String({ format: "date-time", description });

export const Condition = Type.Object(
  {
    type: Type.String({ description: "Ready, BackupHealthy, QuotaHealthy or InSync" }),
    status: Type.Enum(["True", "False", "Unknown"], { description: "whether the condition holds" }),
    reason: Type.String({ description: "why, in one CamelCase word (e.g. BackupStale)" }),
    message: Type.String({ description: "what a human should know or do" }),
    lastTransitionTime: Time("when status last changed"),
    observedGeneration: Type.Integer({ minimum: 0, description: "the metadata.generation judged" }),
  },
  { additionalProperties: false },
);
export type Condition = Static<typeof Condition>;

export const QuotaResourceUse = Type.Object(
  {
    quota: Type.String({ description: "the ResourceQuota" }),
    resource: Type.String({ description: "e.g. requests.memory, pods" }),
    used: Type.String(),
    hard: Type.String(),
    percent: Type.Integer({ minimum: 0, description: "used/hard, rounded down" }),
  },
  { additionalProperties: false },
);

export const DriftedObject = Type.Object(
  {
    kind: Type.String(),
    name: Type.String(),
    state: Type.Enum(["missing", "extra", "different"]),
    fields: Type.Optional(Type.Array(Type.String(), { description: "what differs (state different)" })),
  },
  { additionalProperties: false },
);

export const TenantStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({ minimum: 0, description: "the metadata.generation this status judged" }),
    ),
    phase: Type.Optional(
      Type.Enum(Object.values(TenantPhase), { description: "from spec.suspend/decommission" }),
    ),
    plan: Type.Optional(
      Type.String({ description: "the plan the tenant resolved to (spec.plan or the default)" }),
    ),
    conditions: Type.Optional(
      Type.Array(Condition, { description: "Ready, BackupHealthy, QuotaHealthy, InSync" }),
    ),
    lastBackup: Type.Optional(
      Type.Object(
        {
          time: Time("the backup CronJob's last successful run"),
          size: Type.Optional(Type.String({ description: "bytes written, when the backup reported it" })),
          file: Type.Optional(Type.String({ description: "the snapshot file, when the backup reported it" })),
        },
        { additionalProperties: false, description: "the last good backup" },
      ),
    ),
    quota: Type.Optional(
      Type.Object(
        {
          highest: Type.String({ description: 'the highest use, e.g. "96% pods" ("-" without a quota)' }),
          resources: Type.Array(QuotaResourceUse, { description: "use per quota resource" }),
        },
        { additionalProperties: false },
      ),
    ),
    drift: Type.Optional(
      Type.Object(
        {
          count: Type.Integer({ minimum: 0, description: "objects that differ from git" }),
          objects: Type.Array(DriftedObject),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: "written by the neurallog controller (status subresource)" },
);
export type TenantStatusFields = Static<typeof TenantStatusSchema>;

/** A Tenant object as read from the API (the spec is the tenant file's, kept opaque here). */
export interface TenantObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly generation?: number;
    readonly resourceVersion?: string;
    readonly labels?: Readonly<Record<string, string>>;
  };
  readonly spec?: {
    readonly plan?: string;
    readonly suspend?: boolean;
    readonly decommission?: boolean;
    readonly [field: string]: unknown;
  };
  readonly status?: TenantStatusFields;
}
