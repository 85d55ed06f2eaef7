/**
 * Overcommit: what the tenant's workloads ask for at maximum scale (the footprint the validation engine computes
 * from the resolved spec) against the quota's hard limits. A tenant whose own workloads cannot all fit its quota
 * will see pods rejected when it scales out, before it ever reaches its nominal capacity.
 */
import { parseQuantity } from "../../charts-src/model/quantity.ts";

/** Amounts in base units (cores, bytes, counts) keyed by quota resource name (`requests.cpu`, `pods`, ...). */
export type QuotaFootprint = Readonly<Record<string, number>>;

export interface OvercommitFinding {
  readonly resource: string;
  readonly footprint: number;
  readonly hard: number;
  /** footprint/hard; > 1 means the workloads at maximum scale do not fit. */
  readonly ratio: number;
}

export function overcommit(
  footprint: QuotaFootprint,
  hard: Readonly<Record<string, string | undefined>>,
): OvercommitFinding[] {
  const findings: OvercommitFinding[] = [];
  for (const [resource, amount] of Object.entries(footprint)) {
    const limitText = hard[resource];
    const limit = limitText === undefined ? undefined : parseQuantity(String(limitText));
    if (limit === undefined || amount <= limit) continue;
    findings.push({ resource, footprint: amount, hard: limit, ratio: limit > 0 ? amount / limit : Infinity });
  }
  return findings.sort((a, b) => a.resource.localeCompare(b.resource));
}
