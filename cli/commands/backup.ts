/**
 * `neurallog backup [--redis-url URL] --dest DIR [--tenant T] [--keep N] [--max-age DURATION]`: takes a verified
 * point-in-time snapshot of a Redis into DIR with a manifest, then applies retention. What each tenant's backup
 * CronJob runs. The Redis URL comes from --redis-url or, when omitted, from the REDIS_URL environment variable;
 * the password from the URL or, when it has none, from the file REDIS_PASSWORD_FILE names (the CronJob mounts the
 * tenant's Secret there, so the password is in no environment variable). The last stdout line is the backup file's path; in a
 * Kubernetes container the result also goes to the termination message, for the controller.
 */
import { DURATION_SYNTAX, parseDurationMs } from "../../contracts/duration.ts";
import { parseFlags, UsageError } from "../args.ts";
import { checkTenantName } from "../../backup/backup-naming.ts";
import { DirectoryBackupStore } from "../../backup/backup-store.ts";
import { parseRedisUrl, RedisUrlError, type RedisTarget } from "../../backup/redis-url.ts";
import { RedisPasswordError, redisPasswordFromEnv } from "../../contracts/redis-password.ts";
import { takeBackup } from "../../backup/take-backup.ts";
import { writeTerminationMessage } from "../../backup/termination-message.ts";

const USAGE =
  "usage: neurallog backup [--redis-url URL] --dest DIR [--tenant T] [--keep N] [--max-age DURATION]\n" +
  "  --redis-url  redis://[:password@]host:port (default: $REDIS_URL; password from $REDIS_PASSWORD_FILE if none)\n" +
  "  --dest       backup directory (created if missing)\n" +
  "  --tenant     tenant name: file prefix and manifest field (default prefix: redis)\n" +
  "  --keep       keep at most N snapshots of this tenant, newest first\n" +
  "  --max-age    delete this tenant's snapshots older than this (e.g. 36h, 14d)";

/** Resolves --redis-url / $REDIS_URL and the password file; shared with `neurallog restore`. */
export function redisTargetFrom(flag: string | undefined): RedisTarget {
  const url = flag ?? process.env.REDIS_URL;
  if (!url) throw new UsageError("--redis-url is required (or set REDIS_URL)");
  try {
    const target = parseRedisUrl(url);
    if (target.password !== undefined) return target;
    const password = redisPasswordFromEnv(process.env);
    return password === undefined ? target : { ...target, password };
  } catch (error) {
    if (error instanceof RedisUrlError || error instanceof RedisPasswordError)
      throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

/** A duration (`90s`, `30m`, `36h`, `14d`, `2w`) in milliseconds; shared with `neurallog restore`. */
export function durationFlag(flag: string, value: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms <= 0)
    throw new UsageError(`${flag}: invalid duration "${value}" (${DURATION_SYNTAX})`);
  return ms;
}

function positiveInteger(flag: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`${flag} must be a whole number ≥ 1 (got "${value}")`);
  return Number(value);
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    "redis-url": { type: "string" },
    dest: { type: "string" },
    tenant: { type: "string" },
    keep: { type: "string" },
    "max-age": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.dest) throw new UsageError(`--dest is required\n${USAGE}`);
  const target = redisTargetFrom(values["redis-url"]);
  let tenant: string | undefined;
  try {
    tenant = values.tenant === undefined ? undefined : checkTenantName(values.tenant);
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  const maxAgeMs = values["max-age"] === undefined ? undefined : durationFlag("--max-age", values["max-age"]);
  const keep = values.keep === undefined ? undefined : positiveInteger("--keep", values.keep);

  const started = Date.now();
  try {
    const result = await takeBackup({
      target,
      store: new DirectoryBackupStore(values.dest),
      ...(tenant !== undefined ? { tenant } : {}),
      retention: { ...(keep !== undefined ? { keep } : {}), ...(maxAgeMs !== undefined ? { maxAgeMs } : {}) },
    });
    const m = result.manifest;
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `backup of ${m.source}: ${m.sizeBytes} bytes, ${m.keys} keys${m.keysExact ? "" : " (approximate)"}, ` +
        `RDB ${m.rdbVersion} from Redis ${m.redisVersion}, sha256 ${m.sha256}, ${seconds.toFixed(2)} s`,
    );
    for (const name of result.deleted) console.log(`retention: deleted ${name}`);
    await writeTerminationMessage(m);
    console.log(result.location);
    return 0;
  } catch (error) {
    console.error(`neurallog backup: ${(error as Error).message}`);
    return 1;
  }
}
