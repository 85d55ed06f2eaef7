/**
 * The resolved tenant: every default applied (built-ins ← plan ← tenant file), nothing optional that the
 * renderer needs. Synth, the tenant ConfigMap (the controller's desired state) and the semantic checks read
 * only this shape. It is the contract between synth and the controller, so it is written out here rather than
 * derived from the tenant schema (`charts-src/model/tenant-schema.ts`), whose resolver must produce it.
 */

/** The version of the tenant file format, and of the desired state the controller reads. */
export const TENANT_API_VERSION = "neurallog.io/v1alpha1";

/** ResourceQuota keys we render; anything else is a typo worth reporting. */
export const QUOTA_KEYS = [
  "requests.cpu",
  "requests.memory",
  "limits.cpu",
  "limits.memory",
  "requests.storage",
  "requests.ephemeral-storage",
  "limits.ephemeral-storage",
  "persistentvolumeclaims",
  "pods",
  "services",
  "services.loadbalancers",
  "services.nodeports",
  "configmaps",
  "secrets",
  "count/cronjobs.batch",
  "count/jobs.batch",
] as const;
export type QuotaKey = (typeof QUOTA_KEYS)[number];

/**
 * The tenant file's shapes the resolved tenant carries as they are (`Static` types of the tenant schema must stay
 * assignable to these, which the resolver's type-check enforces).
 */
/** A label selector: matchLabels only (the tenant schema's `labelSelector`). */
export interface LabelSelectorInput {
  matchLabels: Record<string, string>;
}

export interface OwnerInput {
  kind: "User" | "Group" | "ServiceAccount";
  name: string;
  email?: string;
}

/** An extra NetworkPolicy of the tenant file (`network.extraRules[]`). */
export interface ExtraRuleInput {
  name: string;
  direction: "ingress" | "egress";
  podSelector?: LabelSelectorInput;
  peers: {
    cidr?: string;
    except?: string[];
    namespaceSelector?: LabelSelectorInput;
    podSelector?: LabelSelectorInput;
  }[];
  ports?: { port: number; protocol?: "TCP" | "UDP" | "SCTP" }[];
}

/** A Kubernetes toleration of a node taint (the tenant schema's `Toleration`). */
export interface TolerationInput {
  key?: string;
  operator?: "Exists" | "Equal";
  value?: string;
  effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  tolerationSeconds?: number;
}

/** A node selector requirement (the tenant schema's `NodeSelectorRequirement`). */
export interface NodeSelectorRequirementInput {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt";
  values?: string[];
}

/** A node selector term: every requirement in it must hold (the tenant schema's `NodeSelectorTerm`). */
export interface NodeSelectorTermInput {
  matchExpressions?: NodeSelectorRequirementInput[];
  matchFields?: NodeSelectorRequirementInput[];
}

/** Node affinity only (the tenant schema's `Affinity`). */
export interface AffinityInput {
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTermInput[] };
    preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; preference: NodeSelectorTermInput }[];
  };
}

export interface ResolvedResourceList {
  readonly cpu: string;
  readonly memory: string;
}

export interface ResolvedResources {
  readonly requests: ResolvedResourceList;
  readonly limits: ResolvedResourceList;
}

/** Where a workload's pods run; empty when the tenant and its plan say nothing (any untainted node). */
export interface ResolvedPlacement {
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly TolerationInput[];
  readonly affinity: AffinityInput;
}

export interface ResolvedServer {
  readonly replicas: number;
  readonly resources: ResolvedResources;
  readonly autoscaling: {
    readonly enabled: boolean;
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly targetCPUUtilizationPercentage: number;
  };
  readonly ingress: {
    readonly enabled: boolean;
    readonly host: string;
    readonly tlsSecretName: string;
    readonly className: string;
    readonly annotations: Readonly<Record<string, string>>;
    readonly allowedSourceCIDRs: readonly string[];
  };
  readonly apiKeysSecret: { readonly name: string; readonly key: string };
  readonly logRetention: { readonly maxAge: string; readonly maxEntries: number };
  readonly rules: readonly Readonly<Record<string, unknown>>[];
  readonly placement: ResolvedPlacement;
}

export interface ResolvedRedis {
  readonly storage: { readonly size: string; readonly storageClassName: string };
  readonly resources: ResolvedResources;
  /** Bytes, as redis.conf wants them. */
  readonly maxmemoryBytes: number;
  readonly maxmemoryPolicy: string;
  readonly appendfsync: "always" | "everysec" | "no";
  /**
   * The Secret holding Redis' password (always set: Redis never runs without one). `generated`: the tenant file
   * names none, so the controller creates `<tenant>-redis-auth` with a random password once (ADR 0011).
   */
  readonly passwordSecret: { readonly name: string; readonly key: string; readonly generated: boolean };
  readonly placement: ResolvedPlacement;
}

export interface ResolvedBackup {
  readonly enabled: boolean;
  readonly schedule: string;
  readonly timeZone: string;
  readonly retention: { readonly keep: number; readonly maxAge: string };
  readonly destination: { readonly type: "volume"; readonly size: string; readonly storageClassName: string };
  /** The backup job's container resources (fixed by the platform: the job streams, it needs little). */
  readonly resources: ResolvedResources;
  readonly placement: ResolvedPlacement;
}

export interface ResolvedNetwork {
  readonly apiAccess: {
    readonly fromNamespaces: readonly LabelSelectorInput[];
    readonly fromCIDRs: readonly string[];
  };
  readonly webhookEgress: readonly {
    readonly cidr: string;
    readonly ports: readonly number[];
    readonly description?: string;
    /** The server may call internal addresses in this range (NEURALLOG_ALLOW_INTERNAL_WEBHOOKS). */
    readonly internal: boolean;
  }[];
  readonly extraRules: readonly ExtraRuleInput[];
}

export interface ResolvedTenant {
  readonly name: string;
  readonly namespace: string;
  readonly plan: string;
  readonly displayName: string;
  readonly owners: readonly OwnerInput[];
  readonly suspend: boolean;
  readonly decommission: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly server: ResolvedServer;
  readonly redis: ResolvedRedis;
  readonly quota: { readonly hard: Readonly<Partial<Record<QuotaKey, string>>> };
  readonly limitRange: {
    readonly default: ResolvedResourceList;
    readonly defaultRequest: ResolvedResourceList;
    readonly max?: Partial<ResolvedResourceList>;
    readonly min?: Partial<ResolvedResourceList>;
  };
  readonly network: ResolvedNetwork;
  readonly backup: ResolvedBackup;
}

/** The platform's monitoring stack; the operator and dashboard parts are present only when the file enables them. */
export interface ResolvedMonitoring {
  /** Prometheus' namespace: the only one allowed to scrape the servers and the controller. */
  readonly namespace: string;
  readonly prometheusOperator?: {
    /** Put on every PrometheusRule and ServiceMonitor, for the Prometheus resource's selectors. */
    readonly labels: Readonly<Record<string, string>>;
    /** Ends in `/`; an alert's runbook is `<runbookBaseURL><alert runbook>.md`. */
    readonly runbookBaseURL: string;
  };
  readonly grafanaDashboards?: {
    readonly labels: Readonly<Record<string, string>>;
    readonly folder: string;
  };
}

export interface ResolvedPlatform {
  readonly images: {
    readonly server: string;
    readonly redis: string;
    readonly pullPolicy: "IfNotPresent" | "Always" | "Never";
  };
  readonly baseDomain: string;
  readonly ingress: {
    readonly className: string;
    readonly controllerNamespace: string;
    readonly controllerPodLabels: Readonly<Record<string, string>>;
    /** Where X-Forwarded-For is believed from (the ingress controller's addresses); empty: nowhere. */
    readonly proxyCIDRs: readonly string[];
  };
  readonly storageClassName: string;
  readonly monitoring?: ResolvedMonitoring;
  readonly deploymentRepo: { readonly url: string; readonly branch: string };
  readonly argocd: { readonly namespace: string };
  readonly controller: {
    readonly namespace: string;
    readonly replicas: number;
    readonly mode: "report-only" | "self-heal";
    readonly placement: ResolvedPlacement;
  };
  readonly defaultPlan: string;
  readonly planNames: readonly string[];
}
