/**
 * The images the real node runs, as the image builder (image/, `npm run image`) writes them: OCI layouts under
 * dist/. A missing layout is built first (minutes for neurallog, seconds for pause), so a fresh clone needs no
 * manual step; a present one is imported as it is — rebuild with `npm run image -- <name>` after changing it.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
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
  const missing = names.filter((name) => !existsSync(join(LOCAL_IMAGES[name].dir, "index.json")));
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
