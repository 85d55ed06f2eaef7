/**
 * The images the real node runs, as the image builder (image/, `npm run image`) writes them: OCI layouts under
 * dist/. A missing or stale layout (image/build.ts `isCurrent`: built from other committed files than the
 * checkout's) is built first (minutes for neurallog, seconds for pause), so neither a fresh clone nor a commit
 * needs a manual step, and the real node never runs an image older than the code. Uncommitted changes are not
 * in the image: commit first.
 */
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isCurrent } from "../../../image/build.ts";
import type { ImageLayout } from "./real-node.ts";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Image name → the reference pods use for it on the real node, and its layout directory. */
export const LOCAL_IMAGES = {
  pause: { ref: "localhost/neurallog/pause:test", dir: join(repo, "dist/images/pause") },
  coredns: { ref: "localhost/neurallog/coredns:test", dir: join(repo, "dist/images/coredns") },
  redis: { ref: "localhost/neurallog/redis:test", dir: join(repo, "dist/images/redis") },
  neurallog: { ref: "localhost/neurallog/neurallog:test", dir: join(repo, "dist/image") },
} as const satisfies Record<string, ImageLayout>;
export type LocalImage = keyof typeof LOCAL_IMAGES;

/** The layouts of `names`, building the missing ones with the image builder. */
export function localImages(
  names: readonly LocalImage[] = ["pause", "coredns", "redis", "neurallog"],
): ImageLayout[] {
  const missing = names.filter((name) => !isCurrent(name));
  if (missing.length > 0) {
    const result = spawnSync(process.execPath, [join(repo, "image/build.ts"), ...missing], {
      cwd: repo,
      stdio: ["ignore", "inherit", "inherit"],
    });
    if (result.status !== 0)
      throw new Error(`npm run image -- ${missing.join(" ")} failed (${result.status})`);
  }
  return names.map((name) => LOCAL_IMAGES[name]);
}
