/**
 * `neurallog status [TENANT] [--kubeconfig PATH] [-o table|json]`: every tenant's health from the terminal, judged
 * exactly as the controller judges it (`assessTenant` over one snapshot of what its informers watch) and worded
 * as its Events: desired state, drift, quota use, pods refused by quota, overcommit, backups; and the status the
 * controller last wrote into the tenant's Tenant object (its conditions, in the details and the JSON as
 * `tenantStatus`), which is what `kubectl get tenants` and Argo CD show. Read-only: it lists,
 * and needs the controller's read rights, nothing more. Exit code 0 when it could judge (whatever it found), 1
 * when it could not (no cluster, no such tenant).
 */
import { parseFlags, UsageError } from "../args.ts";
import { loadKubeConfig } from "../kube-config.ts";
import { formatAge } from "../../controller/reconcile/backup-health.ts";
import type { TenantStatus } from "../../controller/reconcile/reconcile-tenant.ts";
import type { TenantStatusFields } from "../../contracts/tenant-status.ts";

const USAGE =
  "usage: neurallog status [TENANT] [--kubeconfig PATH] [-o table|json]\n" +
  "  TENANT        one tenant, with every finding spelled out (default: a table of all tenants)\n" +
  "  --kubeconfig  kubeconfig file (default: in-cluster service account)\n" +
  "  -o, --output  table (default) or json (the controller's /status shape)";

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      kubeconfig: { type: "string" },
      output: { type: "string", short: "o" },
      help: { type: "boolean", short: "h" },
    },
    true,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const output = values.output ?? "table";
  if (output !== "table" && output !== "json")
    throw new UsageError(`-o must be table or json, got "${output}"`);
  if (positionals.length > 1)
    throw new UsageError(`one TENANT at most, got ${positionals.join(" ")}\n${USAGE}`);
  const [tenant] = positionals;

  const kubeConfig = await loadKubeConfig(values.kubeconfig);
  const { readTenantSnapshot } = await import("../../controller/informers/tenant-snapshot.ts");
  const { assessTenant, eventsFor } = await import("../../controller/reconcile/reconcile-tenant.ts");
  const { TENANT_LABEL } = await import("../../contracts/tenant-configmap.ts");
  const cache = await readTenantSnapshot(kubeConfig, tenant ? `${TENANT_LABEL}=${tenant}` : undefined);
  const now = new Date();
  const statuses = cache.namespaces
    .list()
    .map((ns) => assessTenant(ns.metadata!.name!, cache, now)?.status)
    .filter((s): s is TenantStatus => s !== undefined)
    .sort((a, b) => a.tenant.localeCompare(b.tenant));
  if (tenant && statuses.length === 0)
    throw new UsageError(`no tenant ${tenant}: no namespace carries ${TENANT_LABEL}=${tenant}`);

  // What the controller wrote into each Tenant object (absent before its first judgement or without a Tenant).
  const stored = (s: TenantStatus) => cache.tenants.get(s.tenant, s.namespace)?.status;
  const withStored = (s: TenantStatus) => {
    const tenantStatus = stored(s);
    return tenantStatus ? { ...s, tenantStatus } : s;
  };
  if (output === "json")
    console.log(JSON.stringify(tenant ? withStored(statuses[0]!) : statuses.map(withStored), null, 2));
  else if (tenant) console.log(details(statuses[0]!, eventsFor(statuses[0]!), stored(statuses[0]!)));
  else console.log(table(statuses.map((s) => row(s, eventsFor(s).length))));
  return 0;
}

const COLUMNS = ["TENANT", "NAMESPACE", "HEALTH", "DRIFT", "QUOTA", "BACKUP", "REJECTED"] as const;

/** One line per tenant: what an operator scans for (the worst quota use, how old the last good backup is). */
function row(s: TenantStatus, warnings: number): string[] {
  const worst = [...s.quota].sort((a, b) => b.ratio - a.ratio)[0];
  return [
    s.tenant,
    s.namespace,
    s.desiredState.state !== "ok"
      ? `desired state ${s.desiredState.state}`
      : warnings > 0
        ? `${warnings} warnings`
        : "ok",
    s.drift.length > 0 ? `${s.drift.length} objects` : "-",
    worst ? `${Math.floor(worst.ratio * 100)}% ${worst.resource}` : "-",
    backupCell(s),
    String(s.rejectedPods.reduce((n, r) => n + r.count, 0)),
  ];
}

function backupCell(s: TenantStatus): string {
  const backup = s.backup;
  if (!backup) return "-";
  return backup.ageSeconds !== undefined
    ? `${backup.state}, ${formatAge(backup.ageSeconds * 1000)} ago`
    : backup.state;
}

function table(rows: readonly string[][]): string {
  const all = [[...COLUMNS], ...rows];
  const widths = COLUMNS.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** One tenant: the table's line, then every finding in the words of the controller's Events. */
function details(
  s: TenantStatus,
  warnings: readonly { reason: string; message: string }[],
  stored: TenantStatusFields | undefined,
): string {
  const lines = [table([row(s, warnings.length)]), ""];
  if (s.backup) lines.push(`backup: ${s.backup.detail}`);
  for (const q of s.quota) lines.push(`quota ${q.quota} ${q.resource}: ${q.used}/${q.hard} (${q.level})`);
  lines.push(
    ...(warnings.length > 0 ? warnings.map((w) => `warning ${w.reason}: ${w.message}`) : ["no warnings"]),
  );
  lines.push(
    ...(stored?.conditions
      ? stored.conditions.map((c) => `condition ${c.type}=${c.status} ${c.reason}: ${c.message}`)
      : [`condition: none yet (the controller writes them into Tenant ${s.namespace}/${s.tenant})`]),
  );
  return lines.join("\n");
}
