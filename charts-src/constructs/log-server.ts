/**
 * The tenant's NeuralLog server: Deployment, Service, Ingress with TLS, ConfigMap (retention settings and the
 * rules file), ServiceAccount without token, PodDisruptionBudget and — when autoscaling is on — an HPA.
 */
import { Construct } from "constructs";
import * as k8s from "cdk8s-plus-33/lib/imports/k8s.js";
import { SECRET_ENV_PREFIX } from "../../contracts/rules/rule-schema.ts";
import { SERVER_ROLLING_UPDATE } from "../../contracts/workload-footprint.ts";
import type { ResolvedPlatform, ResolvedTenant } from "../../contracts/resolved-tenant.ts";
import { canonicalJson } from "./canonical-json.ts";
import { contentHash, objectNames, selectorLabels, tenantLabels, tenantMetadata } from "./metadata.ts";
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

export const SERVER_PORT = 8080;
const CONFIG_DIR = "/etc/neurallog/config";
const KEYS_DIR = "/etc/neurallog/keys";
export const RULES_FILE = `${CONFIG_DIR}/rules.json`;

/** Replicas the server runs with: none while the tenant is suspended or being decommissioned. */
export function serverReplicas(tenant: ResolvedTenant): number {
  return tenant.suspend || tenant.decommission ? 0 : tenant.server.replicas;
}

/** The HPA owns the replica count when autoscaling is on and the tenant runs. */
export function autoscaled(tenant: ResolvedTenant): boolean {
  return tenant.server.autoscaling.enabled && serverReplicas(tenant) > 0;
}

/** Replicas prefer different nodes; the tenant's node affinity (placement) narrows which nodes. */
function spreadOverNodes(selector: Record<string, string>): k8s.Affinity {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: "kubernetes.io/hostname",
            labelSelector: { matchLabels: selector },
          },
        },
      ],
    },
  };
}

/** The Service's port name: the ingress backend and the ServiceMonitor name it. */
export const SERVER_PORT_NAME = "http";

export class LogServer extends Construct {
  constructor(scope: Construct, id: string, tenant: ResolvedTenant, platform: ResolvedPlatform) {
    super(scope, id);
    const names = objectNames(tenant);
    const selector = selectorLabels(tenant, "server");
    const metadata = (name: string, annotations: Record<string, string> = {}) =>
      tenantMetadata(tenant, "server", name, annotations);

    new k8s.KubeServiceAccount(this, "service-account", {
      metadata: metadata(names.server),
      automountServiceAccountToken: false,
    });

    const settings = serverSettings(tenant, platform);
    // Sorted keys: reordering a rule's keys in the tenant file must not restart the servers.
    const rules = canonicalJson(tenant.server.rules);
    new k8s.KubeConfigMap(this, "config", {
      metadata: metadata(names.serverConfig),
      data: { ...settings, "rules.json": rules },
    });

    const replicas = serverReplicas(tenant);
    const env = serverEnv(tenant, names.serverConfig, Object.keys(settings));
    const http = k8s.IntOrString.fromString("http");

    new k8s.KubeDeployment(this, "deployment", {
      metadata: metadata(names.server),
      spec: {
        // With autoscaling on, the HPA owns the count; rendering one would fight it on every sync.
        replicas: autoscaled(tenant) ? undefined : replicas,
        selector: { matchLabels: selector },
        // One surge pod at a time (the quota check counts exactly this), never below the wanted count.
        strategy: {
          type: "RollingUpdate",
          rollingUpdate: {
            maxSurge: k8s.IntOrString.fromNumber(SERVER_ROLLING_UPDATE.maxSurge),
            maxUnavailable: k8s.IntOrString.fromNumber(SERVER_ROLLING_UPDATE.maxUnavailable),
          },
        },
        template: {
          metadata: {
            labels: tenantLabels(tenant, "server"),
            annotations: {
              "prometheus.io/scrape": "true",
              "prometheus.io/port": String(SERVER_PORT),
              "prometheus.io/path": "/metrics",
              "neurallog.io/config-sha256": contentHash(JSON.stringify(settings) + rules),
            },
          },
          spec: {
            ...hardenedPodSpec(NEURALLOG_UID),
            serviceAccountName: names.server,
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: "kubernetes.io/hostname",
                whenUnsatisfiable: "ScheduleAnyway",
                labelSelector: { matchLabels: selector },
              },
            ],
            ...podPlacement(tenant.server.placement, spreadOverNodes(selector)),
            containers: [serverContainer(tenant, platform, env)],
            volumes: serverVolumes(tenant, names.serverConfig),
          },
        },
      },
    });

    new k8s.KubeService(this, "service", {
      metadata: metadata(names.server),
      spec: {
        type: "ClusterIP",
        selector,
        ports: [{ name: SERVER_PORT_NAME, port: SERVER_PORT, targetPort: http }],
      },
    });

    addIngress(this, tenant, names.server, metadata);
    addDisruptionAndScaling(this, tenant, names.server, metadata, replicas);
  }
}

/**
 * The server's settings in its ConfigMap, each also an env var of the container (serverEnv): a change to one
 * changes the pod template's config hash, so the servers restart to read it.
 */
function serverSettings(tenant: ResolvedTenant, platform: ResolvedPlatform): Record<string, string> {
  return {
    NEURALLOG_TENANT: tenant.name,
    NEURALLOG_RETENTION_MAX_AGE: tenant.server.logRetention.maxAge,
    NEURALLOG_RETENTION_MAX_ENTRIES: String(tenant.server.logRetention.maxEntries),
    ...internalWebhookSetting(tenant),
    ...trustedProxySetting(platform),
  };
}

/**
 * The webhook ranges the tenant marked internal, which the server's egress guard then lets through. Absent when
 * there are none, so tenants without internal targets keep their ConfigMap (and their pods) as they were.
 */
function internalWebhookSetting(tenant: ResolvedTenant): Record<string, string> {
  const internal = tenant.network.webhookEgress.filter((w) => w.internal).map((w) => w.cidr);
  return internal.length > 0 ? { NEURALLOG_ALLOW_INTERNAL_WEBHOOKS: internal.join(",") } : {};
}

/** The ingress controller's addresses, the only peers whose X-Forwarded-For the server believes; none: unset. */
function trustedProxySetting(platform: ResolvedPlatform): Record<string, string> {
  const cidrs = platform.ingress.proxyCIDRs;
  return cidrs.length > 0 ? { NEURALLOG_TRUSTED_PROXIES: cidrs.join(",") } : {};
}

/** The settings from the ConfigMap (so a change rolls the pods through the config hash), Redis, the key file. */
function serverEnv(tenant: ResolvedTenant, configMap: string, settings: readonly string[]): k8s.EnvVar[] {
  return [
    { name: "PORT", value: String(SERVER_PORT) },
    nodeOptionsEnv(tenant.server.resources.limits.memory),
    ...settings.map((name) => ({ name, valueFrom: { configMapKeyRef: { name: configMap, key: name } } })),
    ...redisClientEnv(tenant),
    { name: "NEURALLOG_API_KEYS_FILE", value: `${KEYS_DIR}/${tenant.server.apiKeysSecret.key}` },
    { name: "NEURALLOG_RULES_FILE", value: RULES_FILE },
  ];
}

/**
 * The tenant's webhook signing secrets (rule actions' `secretEnv`): every key K of the optional Secret
 * `<tenant>-webhook-secrets` becomes NEURALLOG_WEBHOOK_K, the only names `secretEnv` may use, so the Secret
 * cannot set any other variable of the server (REDIS_URL, the keys file). Optional: a tenant without webhook
 * secrets needs none, and its pods start without it. A change reaches the pods at their next restart.
 */
function webhookSecretsEnv(tenant: ResolvedTenant): k8s.EnvFromSource {
  return {
    prefix: SECRET_ENV_PREFIX,
    secretRef: { name: objectNames(tenant).webhookSecrets, optional: true },
  };
}

type ServerMetadata = (name: string, annotations?: Record<string, string>) => k8s.ObjectMeta;

function serverContainer(
  tenant: ResolvedTenant,
  platform: ResolvedPlatform,
  env: k8s.EnvVar[],
): k8s.Container {
  const http = k8s.IntOrString.fromString("http");
  return {
    name: "server",
    image: platform.images.server,
    imagePullPolicy: platform.images.pullPolicy,
    command: ["neurallog", "server"],
    env,
    envFrom: [webhookSecretsEnv(tenant)],
    ports: [{ name: "http", containerPort: SERVER_PORT, protocol: "TCP" }],
    resources: resourceRequirements(tenant.server.resources),
    securityContext: containerSecurityContext,
    startupProbe: {
      httpGet: { path: "/healthz", port: http },
      periodSeconds: 2,
      failureThreshold: 30,
    },
    livenessProbe: {
      httpGet: { path: "/healthz", port: http },
      periodSeconds: 10,
      failureThreshold: 3,
    },
    readinessProbe: {
      httpGet: { path: "/readyz", port: http },
      periodSeconds: 5,
      failureThreshold: 3,
    },
    volumeMounts: [
      { name: "config", mountPath: CONFIG_DIR, readOnly: true },
      { name: "api-keys", mountPath: KEYS_DIR, readOnly: true },
      REDIS_AUTH_VOLUME_MOUNT,
      TMP_MOUNT,
    ],
  };
}

/** The rules file from the ConfigMap, the API keys and Redis password from their Secrets, a writable /tmp. */
function serverVolumes(tenant: ResolvedTenant, configMap: string): k8s.Volume[] {
  const keys = tenant.server.apiKeysSecret;
  return [
    {
      name: "config",
      configMap: { name: configMap, items: [{ key: "rules.json", path: "rules.json" }] },
    },
    {
      name: "api-keys",
      secret: {
        secretName: keys.name,
        items: [{ key: keys.key, path: keys.key }],
        defaultMode: 0o440,
      },
    },
    redisAuthVolume(tenant),
    TMP_VOLUME,
  ];
}

/** The Ingress with TLS, when the tenant's API is exposed; source CIDRs as the ingress-nginx allow-list. */
function addIngress(
  scope: Construct,
  tenant: ResolvedTenant,
  server: string,
  metadata: ServerMetadata,
): void {
  const ingress = tenant.server.ingress;
  if (ingress.enabled) {
    const annotations: Record<string, string> = { ...ingress.annotations };
    if (ingress.allowedSourceCIDRs.length > 0) {
      annotations["nginx.ingress.kubernetes.io/whitelist-source-range"] =
        ingress.allowedSourceCIDRs.join(",");
    }
    new k8s.KubeIngress(scope, "ingress", {
      metadata: metadata(server, annotations),
      spec: {
        ingressClassName: ingress.className,
        tls: [{ hosts: [ingress.host], secretName: ingress.tlsSecretName }],
        rules: [
          {
            host: ingress.host,
            http: {
              paths: [
                {
                  path: "/",
                  pathType: "Prefix",
                  backend: { service: { name: server, port: { name: "http" } } },
                },
              ],
            },
          },
        ],
      },
    });
  }
}

/** The PodDisruptionBudget, and the HorizontalPodAutoscaler when autoscaling is on. */
function addDisruptionAndScaling(
  scope: Construct,
  tenant: ResolvedTenant,
  server: string,
  metadata: ServerMetadata,
  replicas: number,
): void {
  // Never block a node drain forever: with one replica allow it to go, with more keep one serving.
  const minServing = autoscaled(tenant) ? tenant.server.autoscaling.minReplicas : replicas;
  new k8s.KubePodDisruptionBudget(scope, "pdb", {
    metadata: metadata(server),
    spec: {
      selector: { matchLabels: selectorLabels(tenant, "server") },
      ...(minServing > 1
        ? { minAvailable: k8s.IntOrString.fromNumber(1) }
        : { maxUnavailable: k8s.IntOrString.fromNumber(1) }),
    },
  });

  if (autoscaled(tenant)) {
    const scaling = tenant.server.autoscaling;
    new k8s.KubeHorizontalPodAutoscalerV2(scope, "hpa", {
      metadata: metadata(server),
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: server },
        minReplicas: scaling.minReplicas,
        maxReplicas: scaling.maxReplicas,
        metrics: [
          {
            type: "Resource",
            resource: {
              name: "cpu",
              target: { type: "Utilization", averageUtilization: scaling.targetCPUUtilizationPercentage },
            },
          },
        ],
      },
    });
  }
}
