/**
 * Applies the default layers: built-ins ← plan ← tenant spec. Objects merge key by key; arrays and scalars
 * replace (a tenant listing CIDRs means exactly those CIDRs). Assumes the files passed validation.
 */
import {
  BACKUP_JOB_RESOURCES,
  BUILTIN_DEFAULTS,
  DEFAULT_WEBHOOK_PORTS,
  REDIS_MAXMEMORY_SHARE,
} from "./defaults.ts";
import { parseQuantity } from "../../contracts/quantity.ts";
import { REDIS_PASSWORD_KEY } from "../../contracts/redis-password.ts";
import { objectNames } from "../../contracts/tenant-configmap.ts";
import type {
  ResolvedMonitoring,
  ResolvedPlacement,
  ResolvedPlatform,
  ResolvedTenant,
} from "../../contracts/resolved-tenant.ts";
import type { PlacementInput, PlatformFile, TenantFile } from "./tenant-schema.ts";

type Json = unknown;

function isPlainObject(value: Json): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep merge of plain objects; later layers win; arrays and scalars are replaced, never concatenated. */
export function mergeLayers<T>(...layers: readonly Json[]): T {
  let result: Json = undefined;
  for (const layer of layers) {
    if (layer === undefined) continue;
    if (isPlainObject(result) && isPlainObject(layer)) {
      const merged: Record<string, Json> = { ...result };
      for (const [key, value] of Object.entries(layer)) merged[key] = mergeLayers(merged[key], value);
      result = merged;
    } else {
      result = copyJson(layer);
    }
  }
  return result as T;
}

/** A deep copy of plain data (what YAML and the defaults hold); far cheaper than structuredClone per leaf. */
function copyJson(value: Json): Json {
  if (Array.isArray(value)) return value.map(copyJson);
  if (isPlainObject(value)) {
    const copy: Record<string, Json> = {};
    for (const [key, child] of Object.entries(value)) copy[key] = copyJson(child);
    return copy;
  }
  return value;
}

/** A workload's placement after merging: what nobody wrote is empty (no selector, no tolerations). */
function placementOf(part: PlacementInput): ResolvedPlacement {
  return {
    nodeSelector: part.nodeSelector ?? {},
    tolerations: part.tolerations ?? [],
    affinity: part.affinity ?? {},
  };
}

export function tenantNamespace(tenant: TenantFile): string {
  return tenant.spec.namespace ?? `nl-${tenant.metadata.name}`;
}

/**
 * The project's runbooks as published with its source (the image's home, ghcr.io/neurallog): alerts link there
 * unless the platform serves its own copy (monitoring.prometheusOperator.runbookBaseURL).
 */
export const DEFAULT_RUNBOOK_BASE_URL = "https://github.com/neurallog/neurallog/blob/main/docs/runbooks/";

function monitoringOf(monitoring: NonNullable<PlatformFile["spec"]["monitoring"]>): ResolvedMonitoring {
  const { prometheusOperator: operator, grafanaDashboards: dashboards } = monitoring;
  return {
    namespace: monitoring.namespace,
    ...(operator
      ? {
          prometheusOperator: {
            labels: operator.labels ?? {},
            runbookBaseURL: operator.runbookBaseURL ?? DEFAULT_RUNBOOK_BASE_URL,
          },
        }
      : {}),
    ...(dashboards
      ? {
          grafanaDashboards: {
            labels: dashboards.labels ?? { grafana_dashboard: "1" },
            folder: dashboards.folder ?? "NeuralLog",
          },
        }
      : {}),
  };
}

export function planOf(tenant: TenantFile, platform: PlatformFile): string {
  return tenant.spec.plan ?? platform.spec.defaultPlan;
}

export function resolvePlatform(platform: PlatformFile): ResolvedPlatform {
  const spec = platform.spec;
  return {
    images: {
      server: spec.images.server,
      redis: spec.images.redis,
      pullPolicy:
        (spec.images.pullPolicy as ResolvedPlatform["images"]["pullPolicy"] | undefined) ?? "IfNotPresent",
    },
    baseDomain: spec.baseDomain,
    ingress: {
      ...spec.ingress,
      controllerPodLabels: spec.ingress.controllerPodLabels ?? {},
      proxyCIDRs: spec.ingress.proxyCIDRs ?? [],
    },
    storageClassName: spec.storageClassName,
    ...(spec.monitoring ? { monitoring: monitoringOf(spec.monitoring) } : {}),
    deploymentRepo: { url: spec.deploymentRepo.url, branch: spec.deploymentRepo.branch ?? "main" },
    argocd: { namespace: spec.argocd?.namespace ?? "argocd" },
    controller: {
      namespace: spec.controller?.namespace ?? "neurallog-system",
      replicas: spec.controller?.replicas ?? 2,
      mode: (spec.controller?.mode as "report-only" | "self-heal" | undefined) ?? "report-only",
      placement: placementOf(spec.controller ?? {}),
    },
    defaultPlan: spec.defaultPlan,
    planNames: Object.keys(spec.plans).sort(),
  };
}

/**
 * The resolved tenant synth renders, with the tenant file's own spec as written: the Tenant object carries it
 * (spec = the file's spec, so `kubectl get tenant -o yaml` shows what git says, not the defaults). It is not part
 * of the desired state the controller reads (the tenant ConfigMap leaves it out).
 */
export type SynthTenant = ResolvedTenant & { readonly fileSpec: TenantFile["spec"] };

export function resolveTenant(tenant: TenantFile, platformFile: PlatformFile): SynthTenant {
  const platform = resolvePlatform(platformFile);
  const name = tenant.metadata.name;
  const plan = planOf(tenant, platformFile);
  const planSpec = platformFile.spec.plans[plan];
  if (!planSpec) throw new Error(`tenant ${name}: unknown plan "${plan}"`);
  const { description: _description, ...planParts } = planSpec;
  const spec = tenant.spec;
  const parts = mergeLayers<typeof BUILTIN_DEFAULTS & Record<string, never>>(BUILTIN_DEFAULTS, planParts, {
    server: spec.server,
    redis: spec.redis,
    quota: spec.quota,
    limitRange: spec.limitRange,
    network: spec.network,
    backup: spec.backup,
  });
  // Widen the literal types of the built-in constants: after merging, values come from any layer.
  const server = parts.server as unknown as MergedServer;
  const redis = parts.redis as unknown as MergedRedis;
  const { nodeSelector, tolerations, affinity, ...backup } = parts.backup as unknown as Omit<
    ResolvedTenant["backup"],
    "resources" | "placement"
  > &
    PlacementInput;
  const network = parts.network as unknown as NonNullable<TenantFile["spec"]["network"]>;

  return {
    name,
    namespace: tenantNamespace(tenant),
    plan,
    displayName: spec.displayName ?? name,
    owners: spec.owners,
    suspend: spec.suspend ?? false,
    decommission: spec.decommission ?? false,
    labels: spec.labels ?? {},
    annotations: spec.annotations ?? {},
    server: resolveServer(server, name, platform),
    redis: resolveRedis(redis, name, platform),
    quota: { hard: parts.quota.hard },
    limitRange: parts.limitRange as unknown as ResolvedTenant["limitRange"],
    network: {
      apiAccess: {
        fromNamespaces: network.apiAccess?.fromNamespaces ?? [],
        fromCIDRs: network.apiAccess?.fromCIDRs ?? [],
      },
      webhookEgress: (network.webhookEgress ?? []).map((w) => ({
        ...w,
        ports: w.ports ?? [...DEFAULT_WEBHOOK_PORTS],
        internal: w.internal ?? false,
      })),
      extraRules: network.extraRules ?? [],
    },
    backup: {
      ...backup,
      destination: {
        type: "volume",
        size: backup.destination.size,
        storageClassName: backup.destination.storageClassName ?? platform.storageClassName,
      },
      resources: BACKUP_JOB_RESOURCES,
      placement: placementOf({ nodeSelector, tolerations, affinity }),
    },
    fileSpec: tenant.spec,
  };
}

/** The server part after merging, its literal types widened: after merging, values come from any layer. */
type MergedServer = Required<NonNullable<TenantFile["spec"]["server"]>> & {
  resources: ResolvedTenant["server"]["resources"];
};
type MergedRedis = NonNullable<TenantFile["spec"]["redis"]> & {
  resources: ResolvedTenant["redis"]["resources"];
};

function resolveServer(
  server: MergedServer,
  name: string,
  platform: ResolvedPlatform,
): ResolvedTenant["server"] {
  const replicas = server.replicas ?? BUILTIN_DEFAULTS.server.replicas;
  const autoscaling = server.autoscaling ?? {};
  const ingress = server.ingress ?? {};
  return {
    replicas,
    resources: server.resources,
    autoscaling: {
      enabled: autoscaling.enabled ?? false,
      minReplicas: autoscaling.minReplicas ?? replicas,
      maxReplicas: autoscaling.maxReplicas ?? BUILTIN_DEFAULTS.server.autoscaling.maxReplicas,
      targetCPUUtilizationPercentage:
        autoscaling.targetCPUUtilizationPercentage ??
        BUILTIN_DEFAULTS.server.autoscaling.targetCPUUtilizationPercentage,
    },
    ingress: {
      enabled: ingress.enabled ?? true,
      host: ingress.host ?? `${name}.${platform.baseDomain}`,
      tlsSecretName: ingress.tlsSecretName ?? `${name}-tls`,
      className: ingress.className ?? platform.ingress.className,
      annotations: ingress.annotations ?? {},
      allowedSourceCIDRs: ingress.allowedSourceCIDRs ?? [],
    },
    apiKeysSecret: {
      name: server.apiKeysSecret?.name ?? `${name}-api-keys`,
      key: server.apiKeysSecret?.key ?? "api-keys.json",
    },
    logRetention: {
      maxAge: server.logRetention?.maxAge ?? BUILTIN_DEFAULTS.server.logRetention.maxAge,
      maxEntries: server.logRetention?.maxEntries ?? BUILTIN_DEFAULTS.server.logRetention.maxEntries,
    },
    rules: (server.rules ?? []) as Record<string, unknown>[],
    placement: placementOf(server),
  };
}

function resolveRedis(redis: MergedRedis, name: string, platform: ResolvedPlatform): ResolvedTenant["redis"] {
  const redisMemoryLimit = parseQuantity(redis.resources.limits.memory) ?? 0;
  const maxmemory = redis.maxmemory !== undefined ? parseQuantity(redis.maxmemory) : undefined;
  return {
    storage: {
      size: redis.storage?.size ?? BUILTIN_DEFAULTS.redis.storage.size,
      storageClassName: redis.storage?.storageClassName ?? platform.storageClassName,
    },
    resources: redis.resources,
    maxmemoryBytes: Math.floor(maxmemory ?? redisMemoryLimit * REDIS_MAXMEMORY_SHARE),
    maxmemoryPolicy: redis.maxmemoryPolicy ?? BUILTIN_DEFAULTS.redis.maxmemoryPolicy,
    appendfsync: redis.appendfsync ?? BUILTIN_DEFAULTS.redis.appendfsync,
    passwordSecret: redis.passwordSecret
      ? {
          name: redis.passwordSecret.name,
          key: redis.passwordSecret.key ?? REDIS_PASSWORD_KEY,
          generated: false,
        }
      : { name: objectNames({ name }).redisAuth, key: REDIS_PASSWORD_KEY, generated: true },
    placement: placementOf(redis),
  };
}
