/**
 * The backup's result as the container's termination message, so the controller can read size and time of the
 * last good backup from the Job's pod status (`state.terminated.message`) without mounting the tenant's backup
 * volume. Kubernetes creates `/dev/termination-log` in every container; outside Kubernetes there is no such file
 * and nothing is written. NEURALLOG_TERMINATION_LOG overrides the path (a pod with a custom
 * `terminationMessagePath`, or a test).
 */
import { access, constants, writeFile } from "node:fs/promises";
import type { BackupManifest } from "./manifest.ts";

export const DEFAULT_TERMINATION_LOG = "/dev/termination-log";

/** What the controller gets; well under the 4096 bytes Kubernetes keeps. */
export interface BackupTerminationMessage {
  readonly snapshot: string;
  readonly takenAt: string;
  readonly sizeBytes: number;
  readonly keys: number;
  readonly sha256: string;
}

export async function writeTerminationMessage(
  manifest: BackupManifest,
  path = process.env.NEURALLOG_TERMINATION_LOG ?? DEFAULT_TERMINATION_LOG,
): Promise<boolean> {
  try {
    await access(path, constants.W_OK);
  } catch {
    return false;
  }
  const message: BackupTerminationMessage = {
    snapshot: manifest.snapshot,
    takenAt: manifest.takenAt,
    sizeBytes: manifest.sizeBytes,
    keys: manifest.keys,
    sha256: manifest.sha256,
  };
  await writeFile(path, JSON.stringify(message));
  return true;
}
