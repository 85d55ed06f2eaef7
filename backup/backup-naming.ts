/**
 * How backup objects are named: `<tenant>-<UTC time, ISO 8601 basic with milliseconds>.rdb` and its manifest
 * `<same>.json`, e.g. `acme-20261127T034500.123Z.rdb`. Names sort by time, and retention only ever touches names
 * that parse back to this tenant exactly (`acme-eu-…` is not `acme`'s).
 */

const TENANT = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/;

/** The prefix used when no tenant is given (a plain Redis backup). */
export const DEFAULT_PREFIX = "redis";

export function checkTenantName(tenant: string): string {
  if (!TENANT.test(tenant)) {
    throw new Error(
      `invalid tenant name "${tenant}" (lowercase letters, digits and '-', at most 63 characters)`,
    );
  }
  return tenant;
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "");
}

export interface BackupNames {
  readonly snapshot: string;
  readonly manifest: string;
}

export function backupNames(prefix: string, takenAt: Date): BackupNames {
  const base = `${prefix}-${stamp(takenAt)}`;
  return { snapshot: `${base}.rdb`, manifest: `${base}.json` };
}

/** The manifest belonging to a snapshot name. */
export function manifestNameFor(snapshot: string): string {
  return snapshot.replace(/\.rdb$/, ".json");
}

/** When the named object was taken, if it is a snapshot or manifest of exactly this prefix; otherwise null. */
export function parseBackupName(
  prefix: string,
  name: string,
): { readonly takenAt: Date; readonly kind: "snapshot" | "manifest" } | null {
  if (!name.startsWith(`${prefix}-`)) return null;
  const rest = name.slice(prefix.length + 1);
  const kind = rest.endsWith(".rdb") ? "snapshot" : rest.endsWith(".json") ? "manifest" : null;
  if (!kind) return null;
  const match = STAMP.exec(rest.slice(0, rest.lastIndexOf(".")));
  if (!match) return null;
  const [, y, mo, d, h, mi, s, ms] = match.map(Number) as number[];
  const takenAt = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms!));
  return Number.isNaN(takenAt.getTime()) ? null : { takenAt, kind };
}
