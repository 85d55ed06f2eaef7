/**
 * What a tenant's own workloads request at their maximum scale: the server at its HPA maximum (or its replica
 * count without autoscaling) plus the rolling-update surge pod, Redis (one pod), and the backup job's pod when
 * backups are on. The quota check compares the tenant's ResourceQuota with this; the controller reuses it for
 * overcommit checks. Figures come from the same resolved resources that synth renders.
 */
import { parseQuantity } from "./quantity.ts";
import type { QuotaKey, ResolvedResources, ResolvedTenant } from "./resolved-tenant.ts";

/**
 * The server Deployment rolls one extra pod at a time and never drops below the desired count, so during a
 * rollout at full scale one surge pod exists beyond the maximum. Synth renders this; the quota check counts it.
 */
export const SERVER_ROLLING_UPDATE = { maxSurge: 1, maxUnavailable: 0 } as const;

export const FOOTPRINT_KEYS = [
  "requests.cpu",
  "requests.memory",
  "limits.cpu",
  "limits.memory",
  "requests.storage",
  "pods",
  "persistentvolumeclaims",
] as const satisfies readonly QuotaKey[];

export type FootprintKey = (typeof FOOTPRINT_KEYS)[number];

export type Workload = "server" | "redis" | "backup";

/** One workload's share: `count` pods (or volumes) of `each`, written as in the spec (e.g. `500m`). */
export interface FootprintTerm {
  readonly workload: Workload;
  readonly count: number;
  readonly each: string;
  /** count × each, in base units (cores, bytes, objects). */
  readonly amount: number;
}

export interface FootprintLine {
  readonly key: FootprintKey;
  /** In base units: cores, bytes, or a count. */
  readonly total: number;
  readonly terms: readonly FootprintTerm[];
}

export interface WorkloadFootprint {
  /** Server pods at maximum scale, surge included. */
  readonly serverPods: number;
  readonly serverMaxReplicas: number;
  readonly lines: Readonly<Record<FootprintKey, FootprintLine>>;
}

export function serverMaxReplicas(tenant: ResolvedTenant): number {
  const { autoscaling, replicas } = tenant.server;
  return autoscaling.enabled ? Math.max(autoscaling.maxReplicas, autoscaling.minReplicas) : replicas;
}

/**
 * Whether the tenant has a backup volume and (at most one, concurrency Forbid) backup pod: with scheduled
 * backups, and while decommissioning (the final backup Job), as synth renders them.
 */
export function hasBackupWorkload(tenant: ResolvedTenant): boolean {
  return tenant.backup.enabled || tenant.decommission;
}

export function workloadFootprint(tenant: ResolvedTenant): WorkloadFootprint {
  const maxReplicas = serverMaxReplicas(tenant);
  const serverPods = maxReplicas + SERVER_ROLLING_UPDATE.maxSurge;
  const pods: [Workload, number, ResolvedResources][] = [
    ["server", serverPods, tenant.server.resources],
    ["redis", 1, tenant.redis.resources],
  ];
  const backup = hasBackupWorkload(tenant);
  if (backup) pods.push(["backup", 1, tenant.backup.resources]);

  const resource = (key: FootprintKey, pick: (r: ResolvedResources) => string): FootprintLine =>
    line(
      key,
      pods.map(([workload, count, resources]) => term(workload, count, pick(resources))),
    );
  const volumes: FootprintTerm[] = [term("redis", 1, tenant.redis.storage.size)];
  if (backup) volumes.push(term("backup", 1, tenant.backup.destination.size));
  const counted = (key: FootprintKey, entries: [Workload, number][]): FootprintLine =>
    line(
      key,
      entries.map(([workload, count]) => term(workload, count, "1")),
    );

  return {
    serverPods,
    serverMaxReplicas: maxReplicas,
    lines: {
      "requests.cpu": resource("requests.cpu", (r) => r.requests.cpu),
      "requests.memory": resource("requests.memory", (r) => r.requests.memory),
      "limits.cpu": resource("limits.cpu", (r) => r.limits.cpu),
      "limits.memory": resource("limits.memory", (r) => r.limits.memory),
      "requests.storage": line("requests.storage", volumes),
      pods: counted(
        "pods",
        pods.map(([workload, count]) => [workload, count]),
      ),
      persistentvolumeclaims: counted(
        "persistentvolumeclaims",
        volumes.map((v) => [v.workload, 1]),
      ),
    },
  };
}

function term(workload: Workload, count: number, each: string): FootprintTerm {
  return { workload, count, each, amount: count * (parseQuantity(each) ?? 0) };
}

function line(key: FootprintKey, terms: FootprintTerm[]): FootprintLine {
  return { key, terms, total: terms.reduce((sum, t) => sum + t.amount, 0) };
}

/** `server 11 × 500m + redis 1 + backup 100m = 6.6` */
export function formatFootprintLine(footprint: FootprintLine): string {
  const terms = footprint.terms.map((t) => {
    if (footprint.key === "pods" || footprint.key === "persistentvolumeclaims")
      return `${t.workload} ${t.count}`;
    return t.count === 1 ? `${t.workload} ${t.each}` : `${t.workload} ${t.count} × ${t.each}`;
  });
  return `${terms.join(" + ")} = ${formatAmount(footprint.key, footprint.total)}`;
}

/** Cores as `6.6` or `600m`, bytes with a binary suffix, counts as integers. */
export function formatAmount(key: QuotaKey, amount: number): string {
  if (key.endsWith(".cpu")) {
    const milli = Math.round(amount * 1000);
    return milli >= 1000 || milli === 0 ? String(milli / 1000) : `${milli}m`;
  }
  if (key.includes("memory") || key.includes("storage")) return formatBinary(amount);
  return String(amount);
}

/** The largest binary suffix that shows the value exactly with at most two decimals (`4.5Gi`, `1152Mi`). */
function formatBinary(bytes: number): string {
  for (const [suffix, factor] of [
    ["Ti", 2 ** 40],
    ["Gi", 2 ** 30],
    ["Mi", 2 ** 20],
    ["Ki", 2 ** 10],
  ] as const) {
    const hundredths = (bytes / factor) * 100;
    if (bytes >= factor && Math.abs(hundredths - Math.round(hundredths)) < 1e-6) {
      return `${Math.round(hundredths) / 100}${suffix}`;
    }
  }
  return String(Math.round(bytes));
}
