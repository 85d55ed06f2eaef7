/**
 * The tenant's Redis: a one-replica StatefulSet with its data on a claim that outlives the StatefulSet
 * (retention policy Retain; the claim template spells out access modes and storage class, which cdk8s-plus
 * leaves out), redis.conf from a ConfigMap, a headless Service for the StatefulSet's identity and a client
 * Service the server and the backup job use.
 */
import { Construct } from "constructs";
import * as k8s from "cdk8s-plus-33/lib/imports/k8s.js";
import type { ResolvedPlatform, ResolvedTenant } from "../../contracts/resolved-tenant.ts";
import {
  contentHash,
  KEEP_ON_DELETE,
  objectNames,
  selectorLabels,
  tenantLabels,
  tenantMetadata,
} from "./metadata.ts";
import {
  containerSecurityContext,
  hardenedPodSpec,
  REDIS_UID,
  resourceRequirements,
  TMP_MOUNT,
  TMP_VOLUME,
} from "./pod-security.ts";
import { podPlacement } from "./placement.ts";
import {
  REDIS_AUTH_MOUNT,
  REDIS_PASSWORD_FILE,
  REDIS_PASSWORD_FILE_ENV,
} from "../../contracts/redis-password.ts";

export const REDIS_PORT = 6379;
export const REDIS_DATA_DIR = "/data";

/**
 * redis.conf for the tenant. The password cannot be in it (the ConfigMap is in git): Redis reads it at start
 * from the Secret's file (redisContainer). Protected mode stays on (Redis' default): with a password set it
 * admits remote clients that authenticate, and refuses everyone should the password ever be missing.
 */
export function redisConf(tenant: ResolvedTenant): string {
  return [
    `# redis.conf of tenant ${tenant.name}, rendered by neurallog synth from the tenant file.`,
    `port ${REDIS_PORT}`,
    "bind * -::*",
    `dir ${REDIS_DATA_DIR}`,
    // Every acknowledged log must survive a restart: append-only file on the claim.
    "appendonly yes",
    `appendfsync ${tenant.redis.appendfsync}`,
    `maxmemory ${tenant.redis.maxmemoryBytes}`,
    `maxmemory-policy ${tenant.redis.maxmemoryPolicy}`,
    "",
  ].join("\n");
}

/**
 * The Redis password as a file (key `password`, group-readable only: fsGroup gives the pod's user the group),
 * never as an environment variable, which `kubectl describe`, crash dumps and every process in the container see.
 */
export function redisAuthVolume(tenant: ResolvedTenant): k8s.Volume {
  const secret = tenant.redis.passwordSecret;
  return {
    name: "redis-auth",
    secret: { secretName: secret.name, items: [{ key: secret.key, path: "password" }], defaultMode: 0o440 },
  };
}

export const REDIS_AUTH_VOLUME_MOUNT: k8s.VolumeMount = {
  name: "redis-auth",
  mountPath: REDIS_AUTH_MOUNT,
  readOnly: true,
};

/** Env of every container that talks to the tenant's Redis: REDIS_URL (no password in it) and the password file. */
export function redisClientEnv(tenant: ResolvedTenant): k8s.EnvVar[] {
  return [
    { name: "REDIS_URL", value: `redis://${objectNames(tenant).redis}:${REDIS_PORT}` },
    { name: REDIS_PASSWORD_FILE_ENV, value: REDIS_PASSWORD_FILE },
  ];
}

/**
 * Starts Redis with the password read from its file by the shell's `read` builtin (redis.conf cannot include a
 * Secret's bare value, and `$(cat …)` needs a cat the image may lack). Redis rewrites its process title at
 * start, so the password does not stay visible in /proc/<pid>/cmdline. A missing or empty file stops the
 * container with a message naming the file, never a Redis without a password.
 */
const REDIS_START = [
  'IFS= read -r password < "$0" || [ -n "$password" ] || { echo "redis: no password in $0" >&2; exit 1; }',
  'exec redis-server /etc/redis/redis.conf --requirepass "$password"',
].join("; ");

/** The readiness probe authenticates through REDISCLI_AUTH, so the password is on no command line. */
const REDIS_READY = `IFS= read -r REDISCLI_AUTH < ${REDIS_PASSWORD_FILE}; export REDISCLI_AUTH; redis-cli -p ${REDIS_PORT} ping | grep -q PONG`;

export class Redis extends Construct {
  constructor(scope: Construct, id: string, tenant: ResolvedTenant, platform: ResolvedPlatform) {
    super(scope, id);
    const names = objectNames(tenant);
    const selector = selectorLabels(tenant, "redis");
    const conf = redisConf(tenant);

    new k8s.KubeConfigMap(this, "config", {
      metadata: tenantMetadata(tenant, "redis", names.redisConfig),
      data: { "redis.conf": conf },
    });

    const servicePort = { name: "redis", port: REDIS_PORT, targetPort: k8s.IntOrString.fromString("redis") };
    new k8s.KubeService(this, "headless", {
      metadata: tenantMetadata(tenant, "redis", names.redisHeadless),
      spec: { clusterIp: "None", selector, ports: [servicePort], publishNotReadyAddresses: true },
    });
    new k8s.KubeService(this, "service", {
      metadata: tenantMetadata(tenant, "redis", names.redis),
      spec: { type: "ClusterIP", selector, ports: [servicePort] },
    });

    new k8s.KubeStatefulSet(this, "statefulset", {
      metadata: tenantMetadata(tenant, "redis", names.redis, KEEP_ON_DELETE),
      spec: {
        serviceName: names.redisHeadless,
        replicas: 1,
        selector: { matchLabels: selector },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
        template: {
          metadata: {
            labels: tenantLabels(tenant, "redis"),
            annotations: { "neurallog.io/config-sha256": contentHash(conf) },
          },
          spec: {
            ...hardenedPodSpec(REDIS_UID),
            ...podPlacement(tenant.redis.placement),
            containers: [redisContainer(tenant, platform)],
            volumes: [
              { name: "config", configMap: { name: names.redisConfig } },
              redisAuthVolume(tenant),
              TMP_VOLUME,
            ],
          },
        },
        volumeClaimTemplates: [
          {
            // volumeClaimTemplates are immutable: only labels that never change (no tenant labels) go here.
            metadata: { name: "data", labels: selector },
            spec: {
              accessModes: ["ReadWriteOnce"],
              storageClassName: tenant.redis.storage.storageClassName,
              resources: { requests: { storage: k8s.Quantity.fromString(tenant.redis.storage.size) } },
            },
          },
        ],
      },
    });
  }
}

/** The Redis container: redis.conf from the ConfigMap, the password from its Secret's file, probes. */
function redisContainer(tenant: ResolvedTenant, platform: ResolvedPlatform): k8s.Container {
  return {
    name: "redis",
    image: platform.images.redis,
    imagePullPolicy: platform.images.pullPolicy,
    command: ["sh", "-c", REDIS_START, REDIS_PASSWORD_FILE],
    ports: [{ name: "redis", containerPort: REDIS_PORT, protocol: "TCP" }],
    resources: resourceRequirements(tenant.redis.resources),
    securityContext: containerSecurityContext,
    startupProbe: {
      tcpSocket: { port: k8s.IntOrString.fromString("redis") },
      periodSeconds: 5,
      failureThreshold: 60,
    },
    livenessProbe: {
      tcpSocket: { port: k8s.IntOrString.fromString("redis") },
      periodSeconds: 10,
      failureThreshold: 6,
    },
    readinessProbe: {
      exec: { command: ["sh", "-c", REDIS_READY] },
      periodSeconds: 5,
      timeoutSeconds: 3,
      failureThreshold: 3,
    },
    volumeMounts: [
      { name: "data", mountPath: REDIS_DATA_DIR },
      { name: "config", mountPath: "/etc/redis", readOnly: true },
      REDIS_AUTH_VOLUME_MOUNT,
      TMP_MOUNT,
    ],
  };
}
