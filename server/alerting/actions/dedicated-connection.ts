/**
 * A second Redis connection for commands that hold their connection (XREADGROUP BLOCK, SUBSCRIBE). The server's
 * client has no offline queue, so the copy is only handed out once it is connected.
 */
import type { Redis } from "ioredis";

export async function dedicatedConnection(redis: Redis, name: string, timeoutMs = 10_000): Promise<Redis> {
  const copy = redis.duplicate({ connectionName: name, commandTimeout: undefined });
  copy.on("error", () => undefined); // reconnects by itself; callers see failed commands
  if (copy.status === "ready") return copy;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      copy.disconnect();
      reject(new Error(`Redis connection "${name}" not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    copy.once("ready", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return copy;
}
