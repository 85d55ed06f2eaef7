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

export const REDIS_PORT = 6379;
export const REDIS_DATA_DIR = "/data";

/** redis.conf for the tenant. The password (if any) cannot come from here: redis.conf cannot read env. */
export function redisConf(tenant: ResolvedTenant): string {
  return [
    `# redis.conf of tenant ${tenant.name}, rendered by neurallog synth from the tenant file.`,
    `port ${REDIS_PORT}`,
    // NetworkPolicies decide who connects; protected mode would refuse every remote client without a password.
    "bind * -::*",
    "protected-mode no",
    `dir ${REDIS_DATA_DIR}`,
    // Every acknowledged log must survive a restart: append-only file on the claim.
    "appendonly yes",
    `appendfsync ${tenant.redis.appendfsync}`,
    `maxmemory ${tenant.redis.maxmemoryBytes}`,
    `maxmemory-policy ${tenant.redis.maxmemoryPolicy}`,
    "",
  ].join("\n");
}

function passwordEnv(name: string, secret: { name: string; key: string }): k8s.EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret.name, key: secret.key } } };
}

/** Env of every container that talks to the tenant's Redis: REDIS_PASSWORD (if any), then REDIS_URL. */
export function redisClientEnv(tenant: ResolvedTenant): k8s.EnvVar[] {
  const host = `${objectNames(tenant).redis}:${REDIS_PORT}`;
  const secret = tenant.redis.passwordSecret;
  if (!secret) return [{ name: "REDIS_URL", value: `redis://${host}` }];
  return [
    passwordEnv("REDIS_PASSWORD", secret),
    // Kubernetes expands $(REDIS_PASSWORD) because it is defined above; the password must be URL-safe.
    { name: "REDIS_URL", value: `redis://:$(REDIS_PASSWORD)@${host}` },
  ];
}

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
            volumes: [{ name: "config", configMap: { name: names.redisConfig } }, TMP_VOLUME],
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

/** The Redis container: redis.conf from the ConfigMap, the password (if any) from its Secret, probes. */
function redisContainer(tenant: ResolvedTenant, platform: ResolvedPlatform): k8s.Container {
  const secret = tenant.redis.passwordSecret;
  const env: k8s.EnvVar[] = secret
    ? [
        passwordEnv("REDIS_PASSWORD", secret),
        // redis-cli reads this, so the readiness probe authenticates without the password on its command line.
        passwordEnv("REDISCLI_AUTH", secret),
      ]
    : [];
  return {
    name: "redis",
    image: platform.images.redis,
    imagePullPolicy: platform.images.pullPolicy,
    command: ["redis-server", "/etc/redis/redis.conf"],
    // redis.conf cannot read the environment; Kubernetes expands $(REDIS_PASSWORD) in args.
    args: secret ? ["--requirepass", "$(REDIS_PASSWORD)"] : undefined,
    env: env.length > 0 ? env : undefined,
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
      exec: { command: ["sh", "-c", `redis-cli -p ${REDIS_PORT} ping | grep -q PONG`] },
      periodSeconds: 5,
      timeoutSeconds: 3,
      failureThreshold: 3,
    },
    volumeMounts: [
      { name: "data", mountPath: REDIS_DATA_DIR },
      { name: "config", mountPath: "/etc/redis", readOnly: true },
      TMP_MOUNT,
    ],
  };
}
