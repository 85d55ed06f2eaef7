/**
 * `neurallog backups --dest DIR [--tenant T]`: the backups in DIR, newest first, one line each: snapshot name,
 * when it was taken, size, key count and whether it is good (manifest readable, snapshot there with the
 * manifest's size). Runbook step 1 ("pick the backup") runs it in a Job of the backup CronJob's template: the
 * image has no shell, so `ls` and `cat` are not there. Exit code 1 when there is no good backup.
 */
import { parseFlags, UsageError } from "../args.ts";
import { checkTenantName, DEFAULT_PREFIX } from "../../backup/backup-naming.ts";
import { DirectoryBackupStore } from "../../backup/backup-store.ts";
import { listStoredBackups, type StoredBackup } from "../../backup/stored-backups.ts";

const USAGE =
  "usage: neurallog backups --dest DIR [--tenant T]\n" +
  "  --dest    backup directory\n" +
  "  --tenant  tenant name: file prefix (default prefix: redis)";

function line(b: StoredBackup): string {
  const keys = b.manifest
    ? `${b.manifest.keys} keys${b.manifest.keysExact ? "" : " (approximate)"}`
    : "? keys";
  const size = b.sizeBytes === null ? "snapshot missing" : `${b.sizeBytes} bytes`;
  return `${b.snapshot}  taken ${b.takenAt.toISOString()}  ${size}  ${keys}  ${b.state}`;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    dest: { type: "string" },
    tenant: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.dest) throw new UsageError(`--dest is required\n${USAGE}`);
  let prefix = DEFAULT_PREFIX;
  try {
    if (values.tenant !== undefined) prefix = checkTenantName(values.tenant);
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  const backups = await listStoredBackups(new DirectoryBackupStore(values.dest), prefix);
  for (const backup of backups) console.log(line(backup));
  if (!backups.some((b) => b.state === "good")) {
    console.error(`neurallog backups: no good backup of ${prefix} in ${values.dest}`);
    return 1;
  }
  return 0;
}
