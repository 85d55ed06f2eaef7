/**
 * Restores a verified snapshot into a running Redis, without access to its disk and without restarting it:
 * we become its master for one full sync (see snapshot-master.ts), it loads the snapshot all-or-nothing, we
 * check its key count while it is still a replica (so nothing has expired or been written yet), promote it
 * back with `REPLICAOF NO ONE`, and with AOF on wait until its append-only file holds the restored data.
 * If the loaded data does not match, it is not promoted (RestoreNotPromotedError).
 * See docs/runbooks/backup-restore.md for why this mechanism and not another.
 *
 * Nothing touches the target until the file passed verification (header, CRC-64, and SHA-256, size and key
 * counts against its manifest when there is one), holds no Lua function libraries unless they are allowed, and
 * the target was checked to be a primary that can load this RDB version.
 */
import { randomBytes } from "node:crypto";
import type { BackupStore } from "./backup-store.ts";
import { manifestNameFor } from "./backup-naming.ts";
import { readManifest, type BackupManifest } from "./manifest.ts";
import { RdbInspector, RdbVerificationError, type RdbSummary } from "./rdb-inspector.ts";
import type { RedisTarget } from "./redis-url.ts";
import { RedisReplyError, RespConnection } from "./resp.ts";
import { startSnapshotMaster, type SnapshotMaster } from "./snapshot-master.ts";
import { keyspaceCounts } from "./snapshot-source.ts";

/** Refusals: the target was not touched. */
export class RestoreRefusedError extends Error {}

/** The target loaded the snapshot, but what it holds does not match it: it was left a read-only replica. */
export class RestoreNotPromotedError extends Error {}

export interface RestoreRequest {
  readonly target: RedisTarget;
  readonly store: BackupStore;
  /** Snapshot object name in the store. */
  readonly name: string;
  /** The address the target connects back to. Default: our address on the connection to the target. */
  readonly advertiseHost?: string;
  /** The port the target connects back to. Default: a free port. */
  readonly listenPort?: number;
  /** Give up (and leave the target as it was) if the sync has not finished by then. Default 30 min. */
  readonly timeoutMs?: number;
  /** Restore a snapshot that holds Lua function libraries (refused otherwise). */
  readonly allowFunctions?: boolean;
  readonly log?: (line: string) => void;
}

export interface RestoreResult {
  readonly summary: RdbSummary;
  readonly manifest: BackupManifest | null;
  /** Keys per database in the target right after loading, before promotion. */
  readonly keyspace: ReadonlyMap<number, number>;
}

/** The newest RDB format each Redis release line can load (rdb.h RDB_VERSION). */
const RDB_VERSION_BY_RELEASE: ReadonlyArray<readonly [major: number, minor: number, rdb: number]> = [
  [7, 4, 12],
  [7, 2, 11],
  [7, 0, 10],
  [5, 0, 9],
  [4, 0, 8],
  [3, 2, 7],
  [2, 6, 6],
];

/** null when the release is unknown to us (newer than this table): then we let Redis decide. */
export function maxLoadableRdbVersion(redisVersion: string): number | null {
  const [major = 0, minor = 0] = redisVersion.split(".").map(Number);
  if (major >= 8) return null;
  for (const [m, n, rdb] of RDB_VERSION_BY_RELEASE) if (major > m || (major === m && minor >= n)) return rdb;
  return 6;
}

/** Reads the whole snapshot once: header, CRC-64, and size/SHA-256 against the manifest if there is one. */
export async function verifyStoredSnapshot(
  store: BackupStore,
  name: string,
): Promise<{ summary: RdbSummary; manifest: BackupManifest | null }> {
  const location = store.locate(name);
  const inspector = new RdbInspector();
  try {
    for await (const chunk of store.get(name)) inspector.update(chunk as Buffer);
  } catch (error) {
    throw new RestoreRefusedError(`cannot read ${location}: ${(error as Error).message}`, { cause: error });
  }
  let summary: RdbSummary;
  try {
    summary = inspector.finish();
  } catch (error) {
    if (error instanceof RdbVerificationError) {
      throw new RestoreRefusedError(`${location} failed verification: ${error.message}`, { cause: error });
    }
    throw error;
  }
  const manifestName = manifestNameFor(name);
  const hasManifest =
    manifestName !== name && (await store.list(manifestName)).some((o) => o.name === manifestName);
  const manifest = hasManifest ? await readManifest(store, manifestName) : null;
  if (manifest && (manifest.sizeBytes !== summary.sizeBytes || manifest.sha256 !== summary.sha256)) {
    throw new RestoreRefusedError(
      `${location} does not match its manifest (size ${summary.sizeBytes} vs ${manifest.sizeBytes}, ` +
        `sha256 ${summary.sha256.slice(0, 12)}… vs ${manifest.sha256.slice(0, 12)}…)`,
    );
  }
  if (manifest) refuseKeyCountMismatch(location, summary, manifest);
  if (!manifest && summary.crc64 === null) {
    throw new RestoreRefusedError(
      `${location} has no CRC-64 (rdbchecksum no) and no manifest: nothing proves it intact`,
    );
  }
  return { summary, manifest };
}

/**
 * The key counts the manifest recorded against the one the RDB itself records (RESIZEDB of its first database),
 * before anything is loaded: a pair that disagrees is not the backup that was taken.
 */
function refuseKeyCountMismatch(location: string, summary: RdbSummary, manifest: BackupManifest): void {
  const inFile = summary.firstDatabase;
  const claimed = manifest.firstDatabase;
  if (claimed && inFile && (claimed.db !== inFile.db || claimed.keys !== inFile.keys)) {
    throw new RestoreRefusedError(
      `${location} does not match its manifest: the manifest says db${claimed.db} holds ${claimed.keys} keys, ` +
        `the snapshot records ${inFile.keys} keys in db${inFile.db}`,
    );
  }
  if (manifest.keysExact && inFile && manifest.keys !== inFile.keys) {
    throw new RestoreRefusedError(
      `${location} does not match its manifest: the manifest says ${manifest.keys} keys, ` +
        `the snapshot records ${inFile.keys}`,
    );
  }
}

export async function restoreSnapshot(request: RestoreRequest): Promise<RestoreResult> {
  const log = request.log ?? (() => {});
  const { target } = request;
  const { summary, manifest } = await verifyStoredSnapshot(request.store, request.name);
  refuseFunctionLibraries(summary, request.allowFunctions ?? false);
  log(
    `verified ${request.store.locate(request.name)}: ${summary.sizeBytes} bytes, RDB version ${summary.rdbVersion}` +
      (summary.firstDatabase ? `, db${summary.firstDatabase.db}: ${summary.firstDatabase.keys} keys` : ""),
  );

  const control = await RespConnection.open(target);
  try {
    await refuseUnfitTarget(control, target, summary);
    const host =
      request.advertiseHost ?? (control.socket.localAddress ?? "127.0.0.1").replace(/^::ffff:/, "");
    // Read before the master listens: a user without CONFIG is refused here, with nothing started or changed.
    const originalMasterauth = await masterauthOf(control, target);
    // Only the target learns this password (as its masterauth); the snapshot master serves nobody without it.
    const password = randomBytes(32).toString("hex");
    const master = await startSnapshotMaster({
      host,
      port: request.listenPort ?? 0,
      sizeBytes: summary.sizeBytes,
      sha256: summary.sha256,
      open: () => request.store.get(request.name),
      password,
      onRefused: (peer, reason) => log(`refused a replication connection from ${peer}: it ${reason}`),
    });
    const deadline = Date.now() + (request.timeoutMs ?? 30 * 60_000);
    return await loadAndPromote(
      { control, target, master, password, originalMasterauth, deadline, log },
      summary,
      manifest,
    );
  } finally {
    control.close();
  }
}

/** Refuses a target that is a replica (restore into its primary) or too old to load the snapshot's RDB version. */
async function refuseUnfitTarget(
  control: RespConnection,
  target: RedisTarget,
  summary: RdbSummary,
): Promise<void> {
  const server = await control.info("server");
  const replication = await control.info("replication");
  if (replication.get("role") !== "master") {
    throw new RestoreRefusedError(
      `${target.display} is a replica of ${replication.get("master_host")}:${replication.get("master_port")}; ` +
        "restore into its primary",
    );
  }
  const redisVersion = server.get("redis_version") ?? "unknown";
  const loadable = maxLoadableRdbVersion(redisVersion);
  if (loadable !== null && summary.rdbVersion > loadable) {
    throw new RestoreRefusedError(
      `${target.display} runs Redis ${redisVersion}, which loads RDB versions up to ${loadable}; ` +
        `the snapshot is version ${summary.rdbVersion}`,
    );
  }
}

/** A restore whose snapshot master is listening, and what it takes to put the target back as it was. */
interface RunningRestore {
  readonly control: RespConnection;
  readonly target: RedisTarget;
  readonly master: SnapshotMaster;
  /** The one-time password the target replicates from the master with. */
  readonly password: string;
  /** The target's masterauth before the restore, put back however the restore ends. */
  readonly originalMasterauth: string;
  readonly deadline: number;
  readonly log: (line: string) => void;
}

/** untouched → replicating (old data intact until the load) → loaded (old data gone) → promoted. */
type RestoreState = "untouched" | "replicating" | "loaded" | "promoted";

/**
 * Makes the target a replica of the snapshot master, waits for the load, checks what it loaded and promotes it
 * only if that matches; however it ends, the master is closed and the target left in the state the runbook names.
 */
async function loadAndPromote(
  restore: RunningRestore,
  summary: RdbSummary,
  manifest: BackupManifest | null,
): Promise<RestoreResult> {
  const { control, target, master, deadline, log } = restore;
  let state: RestoreState = "untouched";
  try {
    await control.command("CONFIG", "SET", "masterauth", restore.password);
    state = "replicating";
    await control.command("REPLICAOF", master.host, String(master.port));
    log(`${target.display} is syncing from ${master.host}:${master.port}`);
    await waitForSync(control, master.failed, deadline);
    state = "loaded";
    const keyspace = keyspaceCounts(await control.info("keyspace"));
    await checkLoaded(control, summary, manifest, keyspace);
    await control.command("REPLICAOF", "NO", "ONE");
    state = "promoted";
    await control.command("CONFIG", "SET", "masterauth", restore.originalMasterauth);
    await waitForAppendOnlyRewrite(control, deadline, log);
    return { summary, manifest, keyspace };
  } catch (error) {
    if (state === "loaded") throw notPromoted(error as Error, target);
    throw error;
  } finally {
    try {
      await putBackBeforeLoad(control, state, restore.originalMasterauth);
    } finally {
      await master.close();
    }
  }
}

/**
 * Promoting a target whose load did not match would let writers build on data that is not the snapshot. It stays
 * a read-only replica of the stopped restore, with a master password nobody knows, so nothing else can feed it
 * either; the error tells the operator how to get out of that state.
 */
function notPromoted(error: Error, target: RedisTarget): RestoreNotPromotedError {
  return new RestoreNotPromotedError(
    `${error.message}. ${target.display} was NOT promoted: it holds what it loaded (its previous ` +
      "data was replaced by the load) and stays a read-only replica that accepts no writes. " +
      "Inspect it; then `REPLICAOF NO ONE` and `CONFIG SET masterauth` back to its previous value " +
      '(usually ""), and restore another backup or accept what it holds',
    { cause: error },
  );
}

/** Before the load completed the target still has its old data: make it a primary again as it was. */
async function putBackBeforeLoad(
  control: RespConnection,
  state: RestoreState,
  originalMasterauth: string,
): Promise<void> {
  if (state === "replicating") await control.command("REPLICAOF", "NO", "ONE");
  if (state === "replicating" || state === "untouched")
    await control.command("CONFIG", "SET", "masterauth", originalMasterauth);
}

/** `CONFIG GET masterauth`: kept in memory only, to be put back after the restore. */
async function masterauthOf(control: RespConnection, target: RedisTarget): Promise<string> {
  let reply;
  try {
    reply = await control.command("CONFIG", "GET", "masterauth");
  } catch (error) {
    if (!(error instanceof RedisReplyError)) throw error;
    throw new RestoreRefusedError(
      `${target.display} refused CONFIG GET masterauth (${error.message}): the restore needs CONFIG ` +
        "(to give the target a one-time replication password) besides REPLICAOF and INFO",
      { cause: error },
    );
  }
  return Array.isArray(reply) && reply.length >= 2 ? String(reply[1]) : "";
}

/**
 * Function libraries are Lua code that runs inside the target (FCALL, and at load time their top level); a
 * snapshot carrying some is restored only when the operator says so.
 */
function refuseFunctionLibraries(summary: RdbSummary, allowFunctions: boolean): void {
  if (allowFunctions || summary.functionLibraries === 0) return;
  throw new RestoreRefusedError(
    summary.functionLibraries === null
      ? "cannot tell whether the snapshot holds Lua function libraries (its preamble has records this restore " +
          "does not read); pass --allow-functions to restore it anyway"
      : `the snapshot holds ${summary.functionLibraries} Lua function ` +
          `${summary.functionLibraries === 1 ? "library" : "libraries"} (code that would run inside the target); ` +
          "pass --allow-functions to restore it with them",
  );
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the target reports a finished sync (link up), failing fast if the transfer failed. */
async function waitForSync(control: RespConnection, failed: Promise<Error>, deadline: number): Promise<void> {
  let failure: Error | undefined;
  void failed.then((error) => (failure = error));
  for (;;) {
    if (failure) throw failure;
    const replication = await control.info("replication");
    if (replication.get("master_link_status") === "up" && replication.get("master_sync_in_progress") === "0")
      return;
    if (Date.now() > deadline) throw new Error("the target did not finish loading before the timeout");
    await pause(100);
  }
}

/**
 * With `appendonly yes` (tenant Redis runs so) a replica rewrites its AOF after a full sync, and Redis refuses a
 * clean shutdown until that is done ("Writing initial AOF, can't exit"): a pod killed meanwhile would come back
 * without the restored data. So the restore is finished only when the rewrite is.
 */
async function waitForAppendOnlyRewrite(
  control: RespConnection,
  deadline: number,
  log: (line: string) => void,
): Promise<void> {
  let announced = false;
  for (;;) {
    const persistence = await control.info("persistence");
    if (persistence.get("aof_enabled") !== "1") return;
    const busy =
      persistence.get("aof_rewrite_in_progress") !== "0" || persistence.get("aof_rewrite_scheduled") !== "0";
    if (!busy) {
      if (persistence.get("aof_last_bgrewrite_status") !== "ok") {
        throw new Error(
          "the data was restored, but the target failed to rewrite its append-only file; see its log",
        );
      }
      return;
    }
    if (!announced) log("waiting for the target to rewrite its append-only file with the restored data");
    announced = true;
    if (Date.now() > deadline)
      throw new Error("the target did not finish rewriting its append-only file in time");
    await pause(100);
  }
}

/**
 * What the target holds after the load, while it is still a replica (nothing expired or written yet): keys of
 * the snapshot's first database, the manifest's exact total, and its function libraries. Throws on a mismatch.
 */
async function checkLoaded(
  control: RespConnection,
  summary: RdbSummary,
  manifest: BackupManifest | null,
  keyspace: ReadonlyMap<number, number>,
): Promise<void> {
  const first = summary.firstDatabase;
  if (first) {
    const loaded = keyspace.get(first.db) ?? 0;
    if (loaded !== first.keys) {
      throw new Error(`restored db${first.db} holds ${loaded} keys; the snapshot has ${first.keys}`);
    }
  }
  if (manifest?.keysExact) {
    const total = [...keyspace.values()].reduce((sum, n) => sum + n, 0);
    if (total !== manifest.keys)
      throw new Error(`restored ${total} keys; the manifest says ${manifest.keys}`);
  }
  if (summary.functionLibraries !== null && summary.functionLibraries > 0) {
    const libraries = await control.command("FUNCTION", "LIST");
    const loaded = Array.isArray(libraries) ? libraries.length : 0;
    if (loaded !== summary.functionLibraries)
      throw new Error(`restored ${loaded} function libraries; the snapshot has ${summary.functionLibraries}`);
  }
}
