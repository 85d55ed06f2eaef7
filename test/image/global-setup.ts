/**
 * vitest globalSetup of the `image` project: builds the NeuralLog image when dist/image is missing or stale
 * (dist/image.inputs, the hash of the committed inputs, differs from the checkout's), so a clean clone's test run
 * builds it; then loads the layout into podman's store and hands the image id to the tests.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { isCurrent, LAYOUTS, ROOT } from "../../image/build.ts";

declare module "vitest" {
  export interface ProvidedContext {
    neurallogImage: string;
    neurallogLayoutDigest: string;
    redisImage: string;
  }
}

export default function setup(project: TestProject): () => void {
  if (!isCurrent("neurallog")) {
    console.log("image tests: dist/image is missing or stale, building it (npm run image)");
    execFileSync(process.execPath, [path.join(ROOT, "image/build.ts")], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
  // The test Redis image depends only on the builder (and Debian): rebuilt when the builder changed.
  if (!isCurrent("redis")) {
    console.log("image tests: building the test Redis image (npm run image -- redis)");
    execFileSync(process.execPath, [path.join(ROOT, "image/build.ts"), "redis"], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
  const confDir = mkdtempSync(path.join(tmpdir(), "nl-podman-"));
  const conf = path.join(confDir, "containers.conf");
  // runc: crun refuses hybrid cgroups. ulimits: podman's default (1048576) is above this machine's hard limit.
  writeFileSync(
    conf,
    '[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n',
  );
  process.env.CONTAINERS_CONF = conf;
  const index = JSON.parse(readFileSync(path.join(LAYOUTS.neurallog, "index.json"), "utf8")) as {
    manifests: { digest: string; annotations: Record<string, string> }[];
  };
  const ref = index.manifests[0]!.annotations["org.opencontainers.image.ref.name"];
  const id = execFileSync("podman", ["pull", "--quiet", `oci:${LAYOUTS.neurallog}:${ref}`], {
    encoding: "utf8",
  }).trim();
  project.provide("neurallogImage", id);
  project.provide(
    "redisImage",
    execFileSync("podman", ["pull", "--quiet", `oci:${LAYOUTS.redis}:test`], { encoding: "utf8" }).trim(),
  );
  project.provide("neurallogLayoutDigest", index.manifests[0]!.digest);
  return () => rmSync(confDir, { recursive: true, force: true });
}
