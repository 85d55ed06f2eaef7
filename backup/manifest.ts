/**
 * The manifest written next to each snapshot: what was backed up, from where, and the facts a restore checks
 * against (size, SHA-256, key count). The controller reads it for backup health.
 */
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import type { BackupStore } from "./backup-store.ts";
import type { RdbSummary } from "./rdb-inspector.ts";
import type { Snapshot } from "./snapshot-source.ts";

export const MANIFEST_FORMAT = "neurallog.io/backup-manifest/v1";

export interface BackupManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly tenant: string | null;
  /** Object name of the snapshot in the same store. */
  readonly snapshot: string;
  /** When SYNC was sent (the fork happens right after). */
  readonly takenAt: string;
  readonly completedAt: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  /** The RDB's own CRC-64 trailer (hex), null if the source runs with `rdbchecksum no`. */
  readonly crc64: string | null;
  readonly rdbVersion: number;
  /** `redis_version` from INFO server. */
  readonly redisVersion: string;
  /**
   * Keys in the snapshot. Exact (`keysExact: true`) when the snapshot holds a single database: then it is that
   * database's count recorded in the RDB at fork time. Otherwise the INFO keyspace total just before SYNC.
   */
  readonly keys: number;
  readonly keysExact: boolean;
  /** INFO keyspace just before SYNC, keys per database (`db0`, ...). */
  readonly keyspace: Readonly<Record<string, number>>;
  /** The first database in the snapshot and its exact key count, from the RDB itself. */
  readonly firstDatabase: { readonly db: number; readonly keys: number } | null;
  /** `length` (disk-backed sync) or `eof-mark` (diskless sync). */
  readonly framing: Snapshot["framing"];
  /** The Redis address, without credentials. */
  readonly source: string;
}

export interface ManifestInput {
  readonly tenant: string | null;
  readonly snapshotName: string;
  readonly takenAt: Date;
  readonly completedAt: Date;
  readonly snapshot: Snapshot;
  readonly summary: RdbSummary;
  readonly source: string;
}

export function buildManifest(input: ManifestInput): BackupManifest {
  const { summary, snapshot } = input;
  const keyspace = Object.fromEntries([...snapshot.keyspace].map(([db, keys]) => [`db${db}`, keys]));
  const first = summary.firstDatabase;
  const otherDatabases = [...snapshot.keyspace.keys()].filter(
    (db) => db !== first?.db && snapshot.keyspace.get(db),
  );
  const keysExact = first !== null && otherDatabases.length === 0;
  const keys = keysExact ? first.keys : [...snapshot.keyspace.values()].reduce((sum, n) => sum + n, 0);
  return {
    format: MANIFEST_FORMAT,
    tenant: input.tenant,
    snapshot: input.snapshotName,
    takenAt: input.takenAt.toISOString(),
    completedAt: input.completedAt.toISOString(),
    sizeBytes: summary.sizeBytes,
    sha256: summary.sha256,
    crc64: summary.crc64,
    rdbVersion: summary.rdbVersion,
    redisVersion: snapshot.redisVersion,
    keys,
    keysExact,
    keyspace,
    firstDatabase: first,
    framing: snapshot.framing,
    source: input.source,
  };
}

export async function writeManifest(
  store: BackupStore,
  name: string,
  manifest: BackupManifest,
): Promise<void> {
  await store.put(name, Readable.from([Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)]));
}

/** Reads and checks a manifest; throws if it is not one of ours. */
export async function readManifest(store: BackupStore, name: string): Promise<BackupManifest> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await text(store.get(name)));
  } catch (error) {
    throw new Error(`cannot read backup manifest ${store.locate(name)}`, { cause: error });
  }
  const manifest = parsed as Partial<BackupManifest> | null;
  if (
    !manifest ||
    manifest.format !== MANIFEST_FORMAT ||
    typeof manifest.sizeBytes !== "number" ||
    typeof manifest.sha256 !== "string" ||
    typeof manifest.snapshot !== "string"
  ) {
    throw new Error(`${store.locate(name)} is not a ${MANIFEST_FORMAT} manifest`);
  }
  return manifest as BackupManifest;
}
