/**
 * `neurallog restore [--redis-url URL] --from FILE [--advertise-host HOST] [--listen-port PORT] [--timeout D]
 * [--allow-functions]`: verifies FILE (and its manifest, if next to it), then loads it into the running Redis at
 * URL by serving it as that Redis's replication master for one full sync, checks the key count and promotes it
 * back. A file that fails verification, or holds Lua function libraries without --allow-functions, is refused
 * and the target is not touched; a load that does not match is not promoted. See
 * docs/runbooks/backup-restore.md.
 */
import { basename, dirname } from "node:path";
import { parseFlags, UsageError } from "../args.ts";
import { DirectoryBackupStore } from "../../backup/backup-store.ts";
import {
  restoreSnapshot,
  RestoreNotPromotedError,
  RestoreRefusedError,
} from "../../backup/restore-snapshot.ts";
import { durationFlag, redisTargetFrom } from "./backup.ts";

const USAGE =
  "usage: neurallog restore [--redis-url URL] --from FILE [--advertise-host HOST] [--listen-port PORT] [--timeout D]\n" +
  "                         [--allow-functions]\n" +
  "  --redis-url       the Redis to restore into (default: $REDIS_URL; password from $REDIS_PASSWORD_FILE if none); its data is replaced\n" +
  "  --from            the .rdb snapshot (its .json manifest next to it is checked too)\n" +
  "  --advertise-host  address of this machine the target Redis connects back to (default: auto)\n" +
  "  --listen-port     port for that connection (default: a free port)\n" +
  "  --timeout         give up if loading has not finished by then (default 30m)\n" +
  "  --allow-functions restore a snapshot that holds Lua function libraries (refused otherwise)";

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    "redis-url": { type: "string" },
    from: { type: "string" },
    "advertise-host": { type: "string" },
    "listen-port": { type: "string" },
    timeout: { type: "string" },
    "allow-functions": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.from) throw new UsageError(`--from is required\n${USAGE}`);
  const target = redisTargetFrom(values["redis-url"]);
  const port = values["listen-port"];
  if (port !== undefined && !(/^\d+$/.test(port) && Number(port) <= 65_535)) {
    throw new UsageError(`--listen-port must be a port number (got "${port}")`);
  }
  const timeoutMs = values.timeout === undefined ? undefined : durationFlag("--timeout", values.timeout);

  const started = Date.now();
  try {
    const result = await restoreSnapshot({
      target,
      store: new DirectoryBackupStore(dirname(values.from)),
      name: basename(values.from),
      ...(values["advertise-host"] !== undefined ? { advertiseHost: values["advertise-host"] } : {}),
      ...(port !== undefined ? { listenPort: Number(port) } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      allowFunctions: values["allow-functions"] === true,
      log: (line) => console.log(line),
    });
    const keys = [...result.keyspace].map(([db, n]) => `db${db}=${n}`).join(" ") || "no keys";
    console.log(
      `restored ${values.from} into ${target.display}: ${keys}, ${((Date.now() - started) / 1000).toFixed(2)} s`,
    );
    return 0;
  } catch (error) {
    if (error instanceof RestoreRefusedError) {
      console.error(`neurallog restore: refused, nothing was restored: ${error.message}`);
    } else if (error instanceof RestoreNotPromotedError) {
      console.error(`neurallog restore: loaded but not promoted: ${error.message}`);
    } else {
      console.error(`neurallog restore: ${(error as Error).message}`);
    }
    return 1;
  }
}
