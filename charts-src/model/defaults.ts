/**
 * Built-in defaults: the bottom layer under the platform's plans and the tenant's own spec. A plan only needs
 * to say what differs from these; a tenant only what differs from its plan.
 */
import type { PlanSpecInput } from "./tenant-schema.ts";

export const BUILTIN_DEFAULTS = {
  server: {
    replicas: 2,
    resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } },
    autoscaling: { enabled: false, maxReplicas: 4, targetCPUUtilizationPercentage: 70 },
    ingress: { enabled: true, annotations: {}, allowedSourceCIDRs: [] },
    logRetention: { maxAge: "7d", maxEntries: 1_000_000 },
    rules: [],
  },
  redis: {
    storage: { size: "5Gi" },
    resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
    maxmemoryPolicy: "noeviction",
    appendfsync: "everysec",
  },
  quota: {
    hard: {
      pods: "20",
      services: "10",
      "services.loadbalancers": "0",
      "services.nodeports": "0",
      persistentvolumeclaims: "5",
      configmaps: "20",
      secrets: "20",
    },
  },
  limitRange: {
    default: { cpu: "500m", memory: "512Mi" },
    defaultRequest: { cpu: "100m", memory: "128Mi" },
  },
  network: { apiAccess: { fromNamespaces: [], fromCIDRs: [] }, webhookEgress: [], extraRules: [] },
  backup: {
    enabled: true,
    schedule: "17 2 * * *",
    timeZone: "Etc/UTC",
    retention: { keep: 7, maxAge: "30d" },
    destination: { type: "volume", size: "10Gi" },
  },
} as const satisfies PlanSpecInput;

/** The backup job streams the snapshot; it needs little and this is not a tenant knob. */
export const BACKUP_JOB_RESOURCES = {
  requests: { cpu: "100m", memory: "128Mi" },
  limits: { cpu: "500m", memory: "256Mi" },
} as const;

/** Redis gets this share of its memory limit as maxmemory unless the tenant says otherwise. */
export const REDIS_MAXMEMORY_SHARE = 0.75;

export const DEFAULT_WEBHOOK_PORTS = [443] as const;
