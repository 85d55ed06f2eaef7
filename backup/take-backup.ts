/**
 * One backup run, end to end: snapshot over SYNC → verified while streaming into the store (published only if
 * header and CRC check out) → manifest → retention. What `neurallog backup` and the tenant CronJob run.
 */
import { pipeline } from "node:stream";
import { backupNames, DEFAULT_PREFIX } from "./backup-naming.ts";
import type { BackupStore } from "./backup-store.ts";
import { buildManifest, writeManifest, type BackupManifest } from "./manifest.ts";
import { RdbVerifyingStream } from "./rdb-inspector.ts";
import type { RedisTarget } from "./redis-url.ts";
import { applyRetention, type RetentionPolicy } from "./retention.ts";
import { openSnapshot, type SnapshotOptions } from "./snapshot-source.ts";

export interface BackupRequest {
  readonly target: RedisTarget;
  readonly store: BackupStore;
  readonly tenant?: string;
  readonly retention?: RetentionPolicy;
  readonly snapshot?: SnapshotOptions;
  /** Clock, for tests. */
  readonly now?: () => Date;
}

export interface BackupResult {
  /** Where the snapshot is (a path for the directory store). */
  readonly location: string;
  readonly manifest: BackupManifest;
  /** Snapshot names removed by retention. */
  readonly deleted: readonly string[];
}

export async function takeBackup(request: BackupRequest): Promise<BackupResult> {
  const now = request.now ?? (() => new Date());
  const prefix = request.tenant ?? DEFAULT_PREFIX;
  const takenAt = now();
  const names = backupNames(prefix, takenAt);
  const snapshot = await openSnapshot(request.target, request.snapshot);
  const verifier = new RdbVerifyingStream();
  try {
    // pipeline (not pipe) so a broken connection fails the store's write instead of leaving it waiting.
    // Each block comes back once written: the verifier keeps copies of what it needs, nothing else holds it.
    await request.store.put(
      names.snapshot,
      pipeline(snapshot.payload, verifier, () => {}),
      { written: snapshot.reuse },
    );
  } catch (error) {
    snapshot.payload.destroy();
    throw new Error(`backup of ${request.target.display} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const summary = verifier.summary!;
  const manifest = buildManifest({
    tenant: request.tenant ?? null,
    snapshotName: names.snapshot,
    takenAt,
    completedAt: now(),
    snapshot,
    summary,
    source: request.target.display,
  });
  await writeManifest(request.store, names.manifest, manifest);
  const deleted = await applyRetention(request.store, prefix, request.retention ?? {}, now(), names.snapshot);
  return { location: request.store.locate(names.snapshot), manifest, deleted };
}
