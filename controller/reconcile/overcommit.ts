/**
 * Overcommit: what the tenant's workloads ask for at maximum scale (the validation engine's workload footprint,
 * contracts/workload-footprint.ts, the same figures `neurallog validate` checks) against the hard limits
 * the cluster enforces. A tenant whose own workloads cannot all fit its quota sees pods rejected when it scales
 * out, before it ever reaches its nominal capacity.
 */
import { parseQuantity } from "../../contracts/quantity.ts";
import {
  formatAmount,
  formatFootprintLine,
  type WorkloadFootprint,
} from "../../contracts/workload-footprint.ts";

export interface OvercommitFinding {
  readonly resource: string;
  /** In base units (cores, bytes, counts). */
  readonly footprint: number;
  readonly hard: string;
  /** footprint/hard; > 1 means the workloads at maximum scale do not fit. */
  readonly ratio: number;
  /** `server 11 × 500m + redis 1 + backup 100m = 6.6`. */
  readonly detail: string;
  /** The footprint written like a quantity (`6.6`, `4.5Gi`). */
  readonly needs: string;
}

export function overcommit(
  footprint: WorkloadFootprint,
  hard: Readonly<Record<string, string | undefined>>,
): OvercommitFinding[] {
  const findings: OvercommitFinding[] = [];
  for (const line of Object.values(footprint.lines)) {
    const limitText = hard[line.key];
    const limit = limitText === undefined ? undefined : parseQuantity(String(limitText));
    // A tiny tolerance: footprints are float sums of quantities.
    if (limit === undefined || line.total <= limit * (1 + 1e-9)) continue;
    findings.push({
      resource: line.key,
      footprint: line.total,
      hard: String(limitText),
      ratio: limit > 0 ? line.total / limit : Infinity,
      detail: formatFootprintLine(line),
      needs: formatAmount(line.key, line.total),
    });
  }
  return findings.sort((a, b) => a.resource.localeCompare(b.resource));
}
