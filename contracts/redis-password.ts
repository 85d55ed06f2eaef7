/**
 * How a program reaches the tenant's Redis password: never in REDIS_URL or another environment variable (those
 * show up in `kubectl describe`, crash reports and /proc/<pid>/environ of every process in the container), but
 * as a file mounted from the tenant's Secret, named by REDIS_PASSWORD_FILE. synth mounts it, the server and the
 * backup/restore commands read it. ADR 0011 says how the Secret is created and rotated.
 */
import { readFileSync } from "node:fs";

/** The environment variable naming the password file. */
export const REDIS_PASSWORD_FILE_ENV = "REDIS_PASSWORD_FILE";
/** Where the rendered pods mount the tenant's Redis Secret (the key becomes the file `password`). */
export const REDIS_AUTH_MOUNT = "/etc/redis-auth";
export const REDIS_PASSWORD_FILE = `${REDIS_AUTH_MOUNT}/password`;
/** The key of the generated Secret, and the file name its key is mounted as. */
export const REDIS_PASSWORD_KEY = "password";

export class RedisPasswordError extends Error {
  override name = "RedisPasswordError";
}

/**
 * The password from the file REDIS_PASSWORD_FILE names, or undefined when the variable is unset (a Redis
 * without a password, as in local development). One trailing newline is dropped (`kubectl create secret
 * --from-file` of a file written by `echo` has one); an unreadable or empty file is an error that names the file,
 * never its content.
 */
export function redisPasswordFromEnv(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const file = env[REDIS_PASSWORD_FILE_ENV];
  if (!file) return undefined;
  let content: string;
  try {
    content = readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new RedisPasswordError(`${REDIS_PASSWORD_FILE_ENV}: cannot read ${file} (${reason})`, {
      cause: error,
    });
  }
  const password = content.replace(/\r?\n$/, "");
  if (password === "") throw new RedisPasswordError(`${REDIS_PASSWORD_FILE_ENV}: ${file} is empty`);
  if (/[\r\n]/.test(password))
    throw new RedisPasswordError(`${REDIS_PASSWORD_FILE_ENV}: ${file} holds more than one line`);
  return password;
}
