/**
 * The Redis address a backup or restore talks to, parsed from `redis://[user][:password]@host:port[/db]`.
 * The password is kept out of every string this module produces, so logs and errors can name the target safely.
 */

export interface RedisTarget {
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  /** `redis://host:port` without credentials: the only form that is ever printed. */
  readonly display: string;
}

export class RedisUrlError extends Error {}

export function parseRedisUrl(url: string): RedisTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    // The input may carry a password: never echo it.
    throw new RedisUrlError("the Redis URL is not a valid URL (expected redis://[:password@]host:port)", {
      cause: error,
    });
  }
  if (parsed.protocol === "rediss:") {
    throw new RedisUrlError(
      "rediss:// (TLS) is not supported by backup/restore yet; use redis:// inside the cluster",
    );
  }
  if (parsed.protocol !== "redis:") {
    throw new RedisUrlError(`the Redis URL must start with redis:// (got ${parsed.protocol}//)`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw new RedisUrlError("the Redis URL has no host");
  const port = parsed.port ? Number(parsed.port) : 6379;
  const username = parsed.username ? decodeURIComponent(parsed.username) : undefined;
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  const display = `redis://${parsed.hostname}:${port}`;
  return {
    host,
    port,
    display,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  };
}
