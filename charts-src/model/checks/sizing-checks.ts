/**
 * Checks of the resolved sizes, where the layers meet: requests ≤ limits, the LimitRange in order and around
 * our containers, Redis maxmemory under its memory limit, HPA bounds, and a quota that fits what the tenant's
 * own workloads need at maximum scale. Each finding names the spec-relative fields it depends on, so the
 * caller can point at whichever of them the file actually writes.
 */
import { parseQuantity } from "../../../contracts/quantity.ts";
import type {
  ResolvedResourceList,
  ResolvedResources,
  ResolvedTenant,
} from "../../../contracts/resolved-tenant.ts";
import type { FieldPath } from "../field-path.ts";
import type { QuotaKey } from "../tenant-schema.ts";
import {
  FOOTPRINT_KEYS,
  formatAmount,
  formatFootprintLine,
  hasBackupWorkload,
  workloadFootprint,
} from "../../../contracts/workload-footprint.ts";

/** A finding about spec-relative `paths` (the first is the one the message is about). */
export type SizingFinding = (paths: readonly FieldPath[], message: (origin: string) => string) => void;

const RESOURCES = ["cpu", "memory"] as const;

export function checkSizing(tenant: ResolvedTenant, finding: SizingFinding): void {
  checkContainer(["server"], tenant.server.resources, finding);
  checkContainer(["redis"], tenant.redis.resources, finding);
  checkLimitRange(tenant, finding);

  const memoryLimit = parseQuantity(tenant.redis.resources.limits.memory) ?? 0;
  if (tenant.redis.maxmemoryBytes >= memoryLimit) {
    finding(
      [
        ["redis", "maxmemory"],
        ["redis", "resources", "limits", "memory"],
      ],
      (origin) =>
        `${formatAmount("limits.memory", tenant.redis.maxmemoryBytes)}${origin} must be below the Redis memory limit ${tenant.redis.resources.limits.memory}: Redis needs headroom beyond its data (the default is 75% of the limit)`,
    );
  }

  const { autoscaling, replicas } = tenant.server;
  if (autoscaling.enabled && autoscaling.maxReplicas < autoscaling.minReplicas) {
    finding(
      [
        ["server", "autoscaling", "maxReplicas"],
        ["server", "autoscaling", "minReplicas"],
        ["server", "replicas"],
      ],
      (origin) =>
        `${autoscaling.maxReplicas}${origin} is below minReplicas ${autoscaling.minReplicas}${autoscaling.minReplicas === replicas ? " (which defaults to server.replicas)" : ""}`,
    );
  }

  checkQuota(tenant, finding);
}

function checkContainer(part: FieldPath, resources: ResolvedResources, finding: SizingFinding): void {
  for (const resource of RESOURCES) {
    const request = parseQuantity(resources.requests[resource]);
    const limit = parseQuantity(resources.limits[resource]);
    if (request !== undefined && limit !== undefined && request > limit) {
      finding(
        [
          [...part, "resources", "requests", resource],
          [...part, "resources", "limits", resource],
        ],
        (origin) =>
          `${resources.requests[resource]}${origin} is more than the limit ${resources.limits[resource]}`,
      );
    }
  }
}

function checkLimitRange(tenant: ResolvedTenant, finding: SizingFinding): void {
  const lr = tenant.limitRange;
  const order: [keyof typeof lr, Partial<ResolvedResourceList> | undefined][] = [
    ["min", lr.min],
    ["defaultRequest", lr.defaultRequest],
    ["default", lr.default],
    ["max", lr.max],
  ];
  for (const resource of RESOURCES) {
    const present = order.filter(([, list]) => list?.[resource] !== undefined) as [
      string,
      Partial<ResolvedResourceList>,
    ][];
    for (let i = 0; i + 1 < present.length; i++) {
      const [lowName, low] = present[i]!;
      const [highName, high] = present[i + 1]!;
      if ((parseQuantity(low[resource]!) ?? 0) > (parseQuantity(high[resource]!) ?? 0)) {
        finding(
          [
            ["limitRange", lowName, resource],
            ["limitRange", highName, resource],
          ],
          (origin) =>
            `${low[resource]}${origin} is more than limitRange.${highName}.${resource} ${high[resource]} (min ≤ defaultRequest ≤ default ≤ max)`,
        );
      }
    }
    // Our own containers must fit the LimitRange, or the API server refuses their pods.
    const containers: [FieldPath, ResolvedResources][] = [
      [["server"], tenant.server.resources],
      [["redis"], tenant.redis.resources],
    ];
    if (hasBackupWorkload(tenant)) containers.push([["backup"], tenant.backup.resources]);
    for (const [part, resources] of containers) {
      const max = lr.max?.[resource];
      if (
        max !== undefined &&
        (parseQuantity(resources.limits[resource]) ?? 0) > (parseQuantity(max) ?? Infinity)
      ) {
        finding(
          [
            ["limitRange", "max", resource],
            [...part, "resources", "limits", resource],
          ],
          (origin) =>
            `${max}${origin} is below the ${part.join(".")} container's ${resource} limit ${resources.limits[resource]}; its pods would be rejected`,
        );
      }
      const min = lr.min?.[resource];
      if (
        min !== undefined &&
        (parseQuantity(resources.requests[resource]) ?? 0) < (parseQuantity(min) ?? 0)
      ) {
        finding(
          [
            ["limitRange", "min", resource],
            [...part, "resources", "requests", resource],
          ],
          (origin) =>
            `${min}${origin} is above the ${part.join(".")} container's ${resource} request ${resources.requests[resource]}; its pods would be rejected`,
        );
      }
    }
  }
}

/** Fields that change what the workloads need, by quota key: the position falls back to them. */
function inputsOf(key: QuotaKey): FieldPath[] {
  const scale: FieldPath[] = [
    ["server", "autoscaling", "maxReplicas"],
    ["server", "autoscaling", "enabled"],
    ["server", "replicas"],
  ];
  const backup: FieldPath = ["backup", "enabled"];
  if (key === "requests.storage")
    return [["redis", "storage", "size"], ["backup", "destination", "size"], backup];
  if (key === "persistentvolumeclaims") return [backup];
  if (key === "pods") return [...scale, backup];
  const [kind, resource] = key.split(".") as ["requests" | "limits", "cpu" | "memory"];
  return [...scale, ["server", "resources", kind, resource], ["redis", "resources", kind, resource], backup];
}

function checkQuota(tenant: ResolvedTenant, finding: SizingFinding): void {
  const footprint = workloadFootprint(tenant);
  for (const key of FOOTPRINT_KEYS) {
    const hard = tenant.quota.hard[key];
    if (hard === undefined) continue;
    const allowed = parseQuantity(hard);
    const need = footprint.lines[key];
    // A count that is not a whole number is reported by the spec checks; comparing it would only add noise.
    if (
      allowed === undefined ||
      allowed >= need.total - 1e-9 ||
      ((key === "pods" || key === "persistentvolumeclaims") && !Number.isInteger(allowed))
    )
      continue;
    const scale = tenant.server.autoscaling.enabled
      ? `HPA maxReplicas ${footprint.serverMaxReplicas}`
      : `replicas ${footprint.serverMaxReplicas}`;
    finding(
      [["quota", "hard", key], ...inputsOf(key)],
      (origin) =>
        `${hard}${origin} is less than the workloads need at maximum scale: ${formatFootprintLine(need)} (server: ${scale} + 1 rolling-update surge pod)`,
    );
  }
}
