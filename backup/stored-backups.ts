/**
 * The backups of one tenant as its store holds them, newest first, each judged without reading the snapshot:
 * "good" when its manifest is readable and the snapshot it describes is there with that size. What
 * `neurallog backups` prints (runbook step 1: pick the backup) and what the newest-good-backup health is
 * computed from. A full check (header, CRC-64, SHA-256) is `neurallog restore`'s, before it touches anything.
 */
import type { BackupStore } from "./backup-store.ts";
import { parseBackupName } from "./backup-naming.ts";
import { readManifest, type BackupManifest } from "./manifest.ts";

export type StoredBackupState =
  "good" | "no manifest" | "unreadable manifest" | "size differs from its manifest";

export interface StoredBackup {
  /** The snapshot's object name, e.g. `acme-20261127T034500.123Z.rdb`. */
  readonly snapshot: string;
  readonly takenAt: Date;
  /** The snapshot's size in the store; null when only its manifest is there. */
  readonly sizeBytes: number | null;
  readonly manifest: BackupManifest | null;
  readonly state: StoredBackupState;
}

export async function listStoredBackups(store: BackupStore, prefix: string): Promise<StoredBackup[]> {
  const objects = await store.list(`${prefix}-`);
  const sizes = new Map(objects.map((o) => [o.name, o.sizeBytes]));
  const snapshots = new Map<string, Date>();
  for (const { name } of objects) {
    const parsed = parseBackupName(prefix, name);
    if (parsed)
      snapshots.set(parsed.kind === "snapshot" ? name : name.replace(/\.json$/, ".rdb"), parsed.takenAt);
  }
  const backups: StoredBackup[] = [];
  for (const [snapshot, takenAt] of snapshots) {
    const sizeBytes = sizes.get(snapshot) ?? null;
    const manifestName = snapshot.replace(/\.rdb$/, ".json");
    if (!sizes.has(manifestName)) {
      backups.push({ snapshot, takenAt, sizeBytes, manifest: null, state: "no manifest" });
      continue;
    }
    let manifest: BackupManifest | null = null;
    try {
      manifest = await readManifest(store, manifestName);
    } catch {
      // unreadable or foreign: listed as such, never good
    }
    const state: StoredBackupState = !manifest
      ? "unreadable manifest"
      : manifest.snapshot !== snapshot || sizeBytes !== manifest.sizeBytes
        ? "size differs from its manifest"
        : "good";
    backups.push({ snapshot, takenAt, sizeBytes, manifest, state });
  }
  return backups.sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime());
}
