/**
 * The tenant's backups: a CronJob running `neurallog backup` from the server image against the tenant's Redis
 * into a volume of its own (kept when the tenant file goes away), and — while the tenant is being
 * decommissioned — a one-shot final backup Job.
 */
import { Construct } from "constructs";
import * as k8s from "cdk8s-plus-33/lib/imports/k8s.js";
import type { ResolvedPlatform, ResolvedTenant } from "../../contracts/resolved-tenant.ts";
import { contentHash, KEEP_ON_DELETE, objectNames, tenantLabels, tenantMetadata } from "./metadata.ts";
import {
  containerSecurityContext,
  hardenedPodSpec,
  NEURALLOG_UID,
  resourceRequirements,
  TMP_MOUNT,
  TMP_VOLUME,
} from "./pod-security.ts";
import { nodeOptionsEnv } from "./node-heap.ts";
import { podPlacement } from "./placement.ts";
import { REDIS_AUTH_VOLUME_MOUNT, redisAuthVolume, redisClientEnv } from "./redis.ts";

export const BACKUP_DIR = "/backups";

/** A run that has not started this long after its slot is skipped (the next slot comes). */
const STARTING_DEADLINE_SECONDS = 600;
/** A backup streams one snapshot; an hour means it hangs. */
const ACTIVE_DEADLINE_SECONDS = 3600;
const BACKOFF_LIMIT = 2;

/**
 * The backup command line (the flags `neurallog backup` implements). The Redis URL comes from the `REDIS_URL`
 * env var, not a flag: a password in it would otherwise show in the process arguments.
 */
export function backupCommand(tenant: ResolvedTenant): string[] {
  const retention = tenant.backup.retention;
  return [
    "neurallog",
    "backup",
    "--dest",
    BACKUP_DIR,
    "--tenant",
    tenant.name,
    "--keep",
    String(retention.keep),
    "--max-age",
    retention.maxAge,
  ];
}

function backupJobSpec(tenant: ResolvedTenant, platform: ResolvedPlatform): k8s.JobSpec {
  const names = objectNames(tenant);
  return {
    backoffLimit: BACKOFF_LIMIT,
    activeDeadlineSeconds: ACTIVE_DEADLINE_SECONDS,
    template: {
      metadata: { labels: tenantLabels(tenant, "backup") },
      spec: {
        ...hardenedPodSpec(NEURALLOG_UID),
        ...podPlacement(tenant.backup.placement),
        restartPolicy: "Never",
        containers: [
          {
            name: "backup",
            image: platform.images.server,
            imagePullPolicy: platform.images.pullPolicy,
            command: backupCommand(tenant),
            env: [nodeOptionsEnv(tenant.backup.resources.limits.memory), ...redisClientEnv(tenant)],
            resources: resourceRequirements(tenant.backup.resources),
            securityContext: containerSecurityContext,
            volumeMounts: [{ name: "backups", mountPath: BACKUP_DIR }, REDIS_AUTH_VOLUME_MOUNT, TMP_MOUNT],
          },
        ],
        volumes: [
          { name: "backups", persistentVolumeClaim: { claimName: names.backupVolume } },
          redisAuthVolume(tenant),
          TMP_VOLUME,
        ],
      },
    },
  };
}

export class Backup extends Construct {
  constructor(scope: Construct, id: string, tenant: ResolvedTenant, platform: ResolvedPlatform) {
    super(scope, id);
    const names = objectNames(tenant);
    const backup = tenant.backup;

    // The volume also holds the final backup of a decommissioned tenant, even one without scheduled backups.
    if (!backup.enabled && !tenant.decommission) return;
    new k8s.KubePersistentVolumeClaim(this, "volume", {
      metadata: tenantMetadata(tenant, "backup", names.backupVolume, KEEP_ON_DELETE),
      spec: {
        accessModes: ["ReadWriteOnce"],
        storageClassName: backup.destination.storageClassName,
        resources: { requests: { storage: k8s.Quantity.fromString(backup.destination.size) } },
      },
    });

    if (backup.enabled) this.schedule(tenant, platform);

    if (tenant.decommission) {
      // A Job's pod template is immutable, so the name carries a hash of the spec: a change while the tenant is
      // decommissioned (an image bump) renders a new Job that runs another final backup, and the old one is
      // pruned, instead of a sync that fails forever. Same spec, same name: it runs once.
      const spec = backupJobSpec(tenant, platform);
      const name = `${names.finalBackup}-${contentHash(JSON.stringify(spec)).slice(0, 8)}`;
      new k8s.KubeJob(this, "final-backup", { metadata: tenantMetadata(tenant, "backup", name), spec });
    }
  }

  private schedule(tenant: ResolvedTenant, platform: ResolvedPlatform) {
    const backup = tenant.backup;
    new k8s.KubeCronJob(this, "cronjob", {
      metadata: tenantMetadata(tenant, "backup", objectNames(tenant).backup),
      spec: {
        schedule: backup.schedule,
        timeZone: backup.timeZone,
        // Suspending a tenant pauses its backups; decommissioning runs the one-shot final backup Job instead.
        suspend: tenant.suspend || tenant.decommission,
        concurrencyPolicy: "Forbid",
        startingDeadlineSeconds: STARTING_DEADLINE_SECONDS,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels: tenantLabels(tenant, "backup") },
          spec: backupJobSpec(tenant, platform),
        },
      },
    });
  }
}
