/**
 * The Redis key layout of one tenant, in one place. Every key carries the `{tenant}` hash tag so all of a tenant's
 * keys land in one Redis Cluster slot: the ingest script touches several of them atomically, and the data can move
 * to Redis Cluster unchanged. Other modules (rules, alerts, MCP) derive their keys from `tenantKeys(...).prefix`.
 */

export interface TenantKeys {
  /** `nl:{tenant}:`; extensions append their own suffixes (`rules`, `alerts:...`) to it. */
  readonly prefix: string;
  /** The log stream: one entry per log, field `d` holds the stored JSON (see storage/stored-form.ts). */
  readonly logs: string;
  /**
   * The batch index stream: one entry per accepted batch, its id equal to the last log id of the batch, holding
   * the first id, count, time range, level mask and a Bloom filter of the batch's terms, and the same per block
   * of its logs with their level and source columns (batch-index.ts).
   */
  readonly batches: string;
  /** Per-hour hash of per-minute counts by level and source (`stats:<hour epoch seconds>`). */
  statsHour(hourEpochSeconds: number): string;
}

/** Tenant names as DESIGN.md allows them (a DNS label); anything else would break the hash tag. */
export const TENANT_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function tenantKeys(tenant: string): TenantKeys {
  if (!TENANT_NAME.test(tenant)) throw new Error(`invalid tenant name "${tenant}"`);
  const prefix = `nl:{${tenant}}:`;
  return {
    prefix,
    logs: `${prefix}logs`,
    batches: `${prefix}batches`,
    statsHour: (hour) => `${prefix}stats:${hour}`,
  };
}
