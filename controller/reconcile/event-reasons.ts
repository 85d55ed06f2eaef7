/**
 * Reasons of the Events the controller writes on tenant Namespaces. Each is a string constant and, by the same
 * name, its literal type, so `kubectl get events --field-selector reason=QuotaUsageCritical` and the code agree.
 */
export const EventReason = {
  /** A ResourceQuota, LimitRange or NetworkPolicy is missing, extra, or differs from the tenant ConfigMap. */
  DriftDetected: "DriftDetected",
  /** Self-heal mode restored a drifted object to the desired state. */
  DriftCorrected: "DriftCorrected",
  /** Self-heal mode tried and failed to restore a drifted object. */
  DriftCorrectionFailed: "DriftCorrectionFailed",
  /** A quota resource is at or above 80% of its hard limit. */
  QuotaUsageHigh: "QuotaUsageHigh",
  /** A quota resource is at or above 95% of its hard limit. */
  QuotaUsageCritical: "QuotaUsageCritical",
  /** A controller (ReplicaSet, StatefulSet, Job) could not create pods because a quota was exceeded. */
  PodsRejectedByQuota: "PodsRejectedByQuota",
  /** The tenant's workloads at maximum scale ask for more than the quota allows. */
  QuotaOvercommitted: "QuotaOvercommitted",
  /** No successful backup within 2× the schedule interval, or no backup CronJob at all. */
  BackupStale: "BackupStale",
  /** The backup CronJob never succeeded, and its first success was due (one interval after creation + grace). */
  BackupMissing: "BackupMissing",
  /** The controller created the tenant's generated Redis password Secret (once). */
  RedisPasswordCreated: "RedisPasswordCreated",
  /** The generated Redis password Secret could not be created: the tenant's pods wait for it. */
  RedisPasswordFailed: "RedisPasswordFailed",
  /** The tenant ConfigMap is missing or unreadable: drift cannot be judged. */
  DesiredStateUnavailable: "DesiredStateUnavailable",
} as const;
export type EventReason = (typeof EventReason)[keyof typeof EventReason];

export const EventType = { Normal: "Normal", Warning: "Warning" } as const;
export type EventType = (typeof EventType)[keyof typeof EventType];
