/**
 * Quota usage: used/hard per resource of every ResourceQuota in the tenant namespace (status, as the API server's
 * quota admission and the quota controller keep it), and the pods that controllers could not create because a
 * quota was exceeded (their `FailedCreate` Events: pods rejected at admission leave no other trace).
 */
import type { CoreV1Event, V1ResourceQuota } from "@kubernetes/client-node";
import { parseQuantity } from "../../contracts/quantity.ts";

export const QUOTA_WARNING_RATIO = 0.8;
export const QUOTA_CRITICAL_RATIO = 0.95;

export type UsageLevel = "ok" | "warning" | "critical";

export interface QuotaUsage {
  readonly quota: string;
  readonly resource: string;
  readonly used: string;
  readonly hard: string;
  /** used/hard; a zero hard limit counts as full once anything is used. */
  readonly ratio: number;
  readonly level: UsageLevel;
}

export function usageLevel(ratio: number): UsageLevel {
  if (ratio >= QUOTA_CRITICAL_RATIO) return "critical";
  if (ratio >= QUOTA_WARNING_RATIO) return "warning";
  return "ok";
}

export function quotaUsage(quotas: readonly V1ResourceQuota[]): QuotaUsage[] {
  const usage: QuotaUsage[] = [];
  for (const quota of quotas) {
    const hard = quota.status?.hard ?? {};
    const used = quota.status?.used ?? {};
    for (const [resource, hardText] of Object.entries(hard)) {
      const usedText = used[resource] ?? "0";
      const hardValue = parseQuantity(String(hardText));
      const usedValue = parseQuantity(String(usedText));
      if (hardValue === undefined || usedValue === undefined) continue;
      const ratio = hardValue > 0 ? usedValue / hardValue : usedValue > 0 ? 1 : 0;
      usage.push({
        quota: quota.metadata?.name ?? "",
        resource,
        used: String(usedText),
        hard: String(hardText),
        ratio,
        level: usageLevel(ratio),
      });
    }
  }
  return usage.sort((a, b) => a.resource.localeCompare(b.resource) || a.quota.localeCompare(b.quota));
}

/** The binding ratio per resource (the highest, when several quotas limit the same resource). */
export function highestRatioByResource(usage: readonly QuotaUsage[]): Map<string, number> {
  const ratios = new Map<string, number>();
  for (const u of usage) ratios.set(u.resource, Math.max(ratios.get(u.resource) ?? 0, u.ratio));
  return ratios;
}

export interface QuotaRejection {
  /** The object whose controller could not create pods, e.g. `ReplicaSet/acme-server-6d4f`. */
  readonly object: string;
  readonly count: number;
  readonly lastSeen: string;
  readonly message: string;
}

/** How far back rejections count: the API server's default Event TTL, after which the Events are gone anyway. */
export const REJECTION_WINDOW_MS = 60 * 60 * 1000;

const EXCEEDED_QUOTA = /exceeded quota/i;

export function toMillis(value: Date | string | undefined | null): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * One entry per object whose controller could not create pods. Controllers write one Event per rejected pod
 * (the message names the pod, so the API server does not aggregate them): they are summed here, with the
 * latest message.
 */
export function quotaRejections(events: readonly CoreV1Event[], now: Date): QuotaRejection[] {
  const byObject = new Map<string, { count: number; lastSeen: number; message: string }>();
  for (const event of events) {
    if (event.reason !== "FailedCreate" || !EXCEEDED_QUOTA.test(event.message ?? "")) continue;
    const lastSeen =
      toMillis(event.series?.lastObservedTime) ??
      toMillis(event.lastTimestamp) ??
      toMillis(event.eventTime) ??
      toMillis(event.metadata?.creationTimestamp);
    if (lastSeen === undefined || now.getTime() - lastSeen > REJECTION_WINDOW_MS) continue;
    const object = `${event.involvedObject.kind}/${event.involvedObject.name}`;
    const count = event.series?.count ?? event.count ?? 1;
    const seen = byObject.get(object);
    const latest = !seen || lastSeen >= seen.lastSeen;
    byObject.set(object, {
      count: (seen?.count ?? 0) + count,
      lastSeen: latest ? lastSeen : seen.lastSeen,
      message: latest ? (event.message ?? "") : seen.message,
    });
  }
  return [...byObject]
    .map(([object, r]) => ({
      object,
      count: r.count,
      lastSeen: new Date(r.lastSeen).toISOString(),
      message: r.message,
    }))
    .sort((a, b) => a.object.localeCompare(b.object));
}
