/**
 * Backup health of one tenant as its backup store sees it: when the newest good backup was taken, how old it is
 * and how big. "Good" means its manifest is readable and the snapshot it describes is there with that size;
 * a snapshot without a manifest (a run that died before writing it) does not count.
 *
 * In-cluster the controller cannot mount every tenant's backup volume, so it judges staleness from the backup
 * CronJob (controller/reconcile/backup-health.ts); a backup Job succeeds only after a verified snapshot is on disk,
 * so both views agree. This one is for whoever can read the store: the CLI, a future S3-backed store, tests.
 */
import type { BackupStore } from "./backup-store.ts";
import { listStoredBackups } from "./stored-backups.ts";

export interface StoredBackupHealth {
  /** When the newest good backup was taken; null if there is none. */
  readonly lastSuccessAt: Date | null;
  readonly ageMs: number | null;
  readonly sizeBytes: number | null;
  /** Its snapshot object name. */
  readonly snapshot: string | null;
  /** Snapshots that have a manifest (not each one read). */
  readonly count: number;
}

export async function storedBackupHealth(
  store: BackupStore,
  prefix: string,
  now: Date,
): Promise<StoredBackupHealth> {
  const backups = await listStoredBackups(store, prefix);
  const count = backups.filter((b) => b.sizeBytes !== null && b.state !== "no manifest").length;
  const newest = backups.find((b) => b.state === "good");
  if (!newest) return { lastSuccessAt: null, ageMs: null, sizeBytes: null, snapshot: null, count };
  const lastSuccessAt = new Date(newest.manifest!.takenAt);
  return {
    lastSuccessAt,
    ageMs: now.getTime() - lastSuccessAt.getTime(),
    sizeBytes: newest.manifest!.sizeBytes,
    snapshot: newest.snapshot,
    count,
  };
}
