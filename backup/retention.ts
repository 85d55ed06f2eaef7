/**
 * Which backups to delete after a successful one. A backup goes when it is beyond the `keep` newest or older
 * than `maxAgeMs`, whichever rule catches it first; the backup just taken is never deleted, whatever the rules
 * say (so a misconfigured max age cannot leave a tenant with nothing). Retention only runs after a verified
 * backup, so a failing schedule never erodes the good backups it still has.
 */
import type { BackupStore } from "./backup-store.ts";
import { manifestNameFor, parseBackupName } from "./backup-naming.ts";

export interface RetentionPolicy {
  /** Keep at most this many snapshots (the newest). Default: no count limit. */
  readonly keep?: number;
  /** Delete snapshots older than this. Default: no age limit. */
  readonly maxAgeMs?: number;
}

export interface DatedSnapshot {
  readonly name: string;
  readonly takenAt: Date;
}

export function snapshotsToDelete(
  snapshots: readonly DatedSnapshot[],
  policy: RetentionPolicy,
  now: Date,
  justTaken: string,
): string[] {
  const newestFirst = [...snapshots].sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime());
  return newestFirst
    .filter((snapshot, index) => {
      if (snapshot.name === justTaken) return false;
      const beyondCount = policy.keep !== undefined && index >= policy.keep;
      const tooOld =
        policy.maxAgeMs !== undefined && now.getTime() - snapshot.takenAt.getTime() > policy.maxAgeMs;
      return beyondCount || tooOld;
    })
    .map((snapshot) => snapshot.name);
}

/** Partial files older than this belong to a run that is dead: a backup Job's deadline is one hour. */
export const ABANDONED_PARTIAL_AGE_MS = 24 * 3_600_000;

/** Applies the policy to one prefix's snapshots in a store; returns the deleted snapshot names. */
export async function applyRetention(
  store: BackupStore,
  prefix: string,
  policy: RetentionPolicy,
  now: Date,
  justTaken: string,
): Promise<string[]> {
  await store.sweepPartials?.(`${prefix}-`, new Date(now.getTime() - ABANDONED_PARTIAL_AGE_MS));
  if (policy.keep === undefined && policy.maxAgeMs === undefined) return [];
  const snapshots: DatedSnapshot[] = [];
  for (const object of await store.list(`${prefix}-`)) {
    const parsed = parseBackupName(prefix, object.name);
    if (parsed?.kind === "snapshot") snapshots.push({ name: object.name, takenAt: parsed.takenAt });
  }
  const doomed = snapshotsToDelete(snapshots, policy, now, justTaken);
  for (const name of doomed) {
    // Manifest first: a snapshot without a manifest is never reported as a good backup.
    await store.delete(manifestNameFor(name));
    await store.delete(name);
  }
  return doomed;
}
