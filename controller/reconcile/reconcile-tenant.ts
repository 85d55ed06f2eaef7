/**
 * One tenant, level-based: read everything from the synced cache, judge (drift, quota usage, rejected pods,
 * overcommit, backup health), then act (Events; in self-heal mode, restore drifted objects). The judgement is a
 * pure function of the cache (`assessTenant`), so the status, the metrics and the Events all say the same thing.
 * Cached objects are never modified: desired objects are built fresh from the ConfigMap.
 */
import type { KubernetesObject, ObjectCache, V1Namespace, V1ResourceQuota } from "@kubernetes/client-node";
import { TENANT_CONFIGMAP_NAME, TENANT_LABEL } from "../../contracts/tenant-configmap.ts";
import { parseQuantity } from "../../contracts/quantity.ts";
import { workloadFootprint } from "../../contracts/workload-footprint.ts";
import type { TenantCache } from "../informers/tenant-cache.ts";
import type { KubeActions } from "../kube/kube-actions.ts";
import { backupHealth } from "./backup-health.ts";
import {
  DRIFT_KINDS,
  readDesiredState,
  DesiredStateError,
  type DesiredObject,
  type DesiredState,
  type DriftKind,
  rbacSpec,
  SELF_HEALED_KINDS,
} from "./desired-state.ts";
import { detectDrift } from "./drift.ts";
import { EventReason, EventType } from "./event-reasons.ts";
import type { EventRecorder, TenantEvent } from "./event-recorder.ts";
import { overcommit } from "./overcommit.ts";
import type { RedisPasswords } from "./redis-password.ts";
import { quotaRejections, quotaUsage } from "./quota-usage.ts";
import type { TenantStatus } from "./tenant-assessment.ts";
import { statusDiffers, tenantStatus } from "./tenant-status.ts";

export const CorrectionMode = { ReportOnly: "report-only", SelfHeal: "self-heal" } as const;
export type CorrectionMode = (typeof CorrectionMode)[keyof typeof CorrectionMode];

export type { TenantStatus };

export interface ReconcileDependencies {
  readonly cache: TenantCache;
  readonly actions: KubeActions;
  readonly events: EventRecorder;
  readonly mode: CorrectionMode;
  readonly now: () => Date;
  /**
   * Creates generated Redis password Secrets (the running controller always has it). Left out by the tests of
   * the other judgements, whose exact action lists would otherwise all start with a Secret create.
   */
  readonly passwords?: RedisPasswords;
}

/** What a tenant looks like right now, from the cache alone. `undefined`: the namespace is not a tenant's. */
export function assessTenant(
  namespaceName: string,
  cache: TenantCache,
  now: Date,
): { status: TenantStatus; desired?: DesiredState } | undefined {
  const namespace = cache.namespaces.get(namespaceName);
  const tenantName = namespace?.metadata?.labels?.[TENANT_LABEL];
  if (!namespace || !tenantName) return undefined;

  const quotas = cache.resourceQuotas.list(namespaceName);
  const base = {
    tenant: tenantName,
    namespace: namespaceName,
    observedAt: now.toISOString(),
    quota: quotaUsage(quotas),
    rejectedPods: quotaRejections(cache.failedCreateEvents.list(namespaceName), now),
    corrected: [],
  };
  const configMap = cache.configMaps.get(TENANT_CONFIGMAP_NAME, namespaceName);
  if (!configMap) {
    const detail = `ConfigMap ${namespaceName}/${TENANT_CONFIGMAP_NAME} not found`;
    return { status: { ...base, desiredState: { state: "missing", detail }, drift: [], overcommit: [] } };
  }
  let desired: DesiredState;
  try {
    desired = readDesiredState(configMap);
  } catch (error) {
    if (!(error instanceof DesiredStateError)) throw error;
    return {
      status: {
        ...base,
        desiredState: { state: "invalid", detail: error.message },
        drift: [],
        overcommit: [],
      },
    };
  }

  const drift = detectDrift(
    desired.objects,
    {
      ResourceQuota: quotas,
      LimitRange: cache.limitRanges.list(namespaceName),
      NetworkPolicy: cache.networkPolicies.list(namespaceName),
      Role: cache.roles.list(namespaceName),
      // Compared as a spec (roleRef, subjects), like the desired binding; the cached object is not modified.
      RoleBinding: cache.roleBindings
        .list(namespaceName)
        .map((b) => ({ metadata: b.metadata, spec: rbacSpec(b) })),
    },
    { key: TENANT_LABEL, value: tenantName },
  );
  const { tenant } = desired.state;
  const cronJobName = desired.state.objects.backup;
  const backup = backupHealth({
    enabled: tenant.backup.enabled,
    suspended: tenant.suspend,
    cronJobName,
    cronJob: cache.cronJobs.get(cronJobName, namespaceName),
    now,
  });
  return {
    status: {
      ...base,
      desiredState: { state: "ok" },
      drift,
      overcommit: overcommit(workloadFootprint(tenant), enforcedHard(quotas)),
      backup,
    },
    desired,
  };
}

function observedObject(cache: TenantCache, kind: DriftKind, name: string, namespace: string) {
  const caches: Record<DriftKind, ObjectCache<KubernetesObject>> = {
    ResourceQuota: cache.resourceQuotas,
    LimitRange: cache.limitRanges,
    NetworkPolicy: cache.networkPolicies,
    Role: cache.roles,
    RoleBinding: cache.roleBindings,
  };
  const object = caches[kind].get(name, namespace);
  // The cache holds wire JSON without apiVersion/kind on listed items: name them for the request path.
  return object && { ...object, apiVersion: DRIFT_KINDS[kind], kind };
}

/** The tightest hard limit per resource across the namespace's quotas: what admission actually enforces. */
function enforcedHard(quotas: readonly V1ResourceQuota[]): Record<string, string> {
  const tightest = new Map<string, { value: number; text: string }>();
  for (const quota of quotas) {
    for (const [resource, text] of Object.entries(quota.spec?.hard ?? {})) {
      const value = parseQuantity(String(text));
      const current = tightest.get(resource);
      if (value !== undefined && (!current || value < current.value)) tightest.set(resource, { value, text });
    }
  }
  return Object.fromEntries([...tightest].map(([resource, { text }]) => [resource, text]));
}

/** The Events a status calls for, in a stable order. */
export function eventsFor(status: TenantStatus): TenantEvent[] {
  const events: TenantEvent[] = [];
  const warn = (reason: EventReason, subject: string, message: string) =>
    events.push({ type: EventType.Warning, reason, subject, message });
  if (status.desiredState.state !== "ok") {
    warn(EventReason.DesiredStateUnavailable, TENANT_CONFIGMAP_NAME, status.desiredState.detail ?? "");
  }
  for (const d of status.drift) {
    const what =
      d.state === "different"
        ? `differs from the desired state in ${d.fields.join(", ")}`
        : describeState(d.state);
    warn(EventReason.DriftDetected, `${d.kind}/${d.name}`, `${d.kind} ${d.name} ${what}`);
  }
  for (const u of status.quota) {
    if (u.level === "ok") continue;
    const reason = u.level === "critical" ? EventReason.QuotaUsageCritical : EventReason.QuotaUsageHigh;
    const percent = Math.floor(u.ratio * 100);
    warn(
      reason,
      `${u.quota}/${u.resource}`,
      `${u.resource} at ${percent}% of quota ${u.quota} (${u.used}/${u.hard})`,
    );
  }
  for (const r of status.rejectedPods) {
    warn(
      EventReason.PodsRejectedByQuota,
      r.object,
      `${r.object} could not create pods ${r.count}×: ${r.message}`,
    );
  }
  for (const o of status.overcommit) {
    warn(
      EventReason.QuotaOvercommitted,
      o.resource,
      `${o.resource}: workloads at maximum scale need ${o.needs} (${o.detail}), the quota allows ${o.hard}`,
    );
  }
  if (status.backup && (status.backup.state === "stale" || status.backup.state === "missing")) {
    warn(EventReason.BackupStale, status.backup.cronJob ?? "backup", status.backup.detail);
  }
  if (status.backup?.state === "never-succeeded") {
    warn(EventReason.BackupMissing, status.backup.cronJob ?? "backup", status.backup.detail);
  }
  return events;
}

function describeState(state: "missing" | "extra"): string {
  return state === "missing"
    ? "is missing (desired by the tenant ConfigMap)"
    : "is not defined by git (not in the tenant ConfigMap)";
}

/**
 * The body server-side apply sends to restore a desired object: identity, the tenant label and the spec,
 * nothing else (so the controller owns no more fields than it judges).
 */
export function applyBody(object: DesiredObject, namespace: string, tenant: string) {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    metadata: { name: object.name, namespace, labels: { [TENANT_LABEL]: tenant } },
    spec: structuredClone(object.spec),
  };
}

/**
 * Reconciles one tenant namespace. Returns its status, or `undefined` when the namespace is not (or no longer)
 * a tenant's. Throws when a write failed, so the queue retries with backoff.
 */
export async function reconcileTenant(
  namespaceName: string,
  deps: ReconcileDependencies,
): Promise<TenantStatus | undefined> {
  const now = deps.now();
  const assessed = assessTenant(namespaceName, deps.cache, now);
  if (!assessed) {
    deps.events.forget(namespaceName);
    deps.passwords?.forget(namespaceName);
    return undefined;
  }
  const namespace = deps.cache.namespaces.get(namespaceName) as V1Namespace;
  const { status, desired } = assessed;
  const corrections: TenantEvent[] =
    desired && deps.passwords ? await deps.passwords.ensure(namespaceName, desired.state.tenant, now) : [];
  const corrected: string[] = [];
  if (deps.mode === CorrectionMode.SelfHeal && desired) {
    for (const finding of status.drift) {
      // Never deleted here: the controller's RBAC grants no delete, and an object nobody in git defined may be
      // someone's emergency fix or another operator's; deleting it blind could cut a tenant off. Report it only.
      if (finding.state === "extra" || !SELF_HEALED_KINDS.has(finding.kind)) continue;
      const subject = `${finding.kind}/${finding.name}`;
      const object = desired.objects.find((o) => o.kind === finding.kind && o.name === finding.name)!;
      try {
        // Extra fields first: the removal is conditional on the resourceVersion the judgement was made on, which
        // the apply would change.
        const current = observedObject(deps.cache, finding.kind, finding.name, namespaceName);
        if (finding.extraFields.length > 0 && current?.metadata?.resourceVersion) {
          await deps.actions.removeFields(current, current.metadata.resourceVersion, finding.extraFields);
        }
        await deps.actions.applyObject(applyBody(object, namespaceName, status.tenant));
        corrected.push(subject);
        corrections.push({
          type: EventType.Normal,
          reason: EventReason.DriftCorrected,
          subject,
          message: `${finding.kind} ${finding.name} restored to the desired state (was ${finding.state}${
            finding.fields.length ? `: ${finding.fields.join(", ")}` : ""
          })`,
        });
      } catch (error) {
        corrections.push({
          type: EventType.Warning,
          reason: EventReason.DriftCorrectionFailed,
          subject,
          message: `${finding.kind} ${finding.name} could not be restored: ${(error as Error).message}`,
        });
        await deps.events.record(namespace, [...eventsFor(status), ...corrections], now);
        throw new Error(`restoring ${subject} in ${namespaceName}`, { cause: error });
      }
    }
  }
  await deps.events.record(namespace, [...eventsFor(status), ...corrections], now);
  await writeTenantStatus(status, desired, deps, now);
  return { ...status, corrected };
}

/**
 * The Tenant object's status, written only when it differs from what the informer holds (the API's copy): an
 * unchanged tenant costs no write, a new leader continues from the stored status. No Tenant (not yet synced by
 * Argo CD): nothing to write.
 */
async function writeTenantStatus(
  status: TenantStatus,
  desired: DesiredState | undefined,
  deps: ReconcileDependencies,
  now: Date,
): Promise<void> {
  const tenant = deps.cache.tenants.get(status.tenant, status.namespace);
  if (!tenant) return;
  const next = tenantStatus(status, desired, tenant, now);
  if (statusDiffers(tenant, next)) await deps.actions.applyTenantStatus(tenant, next);
}
