/**
 * Where the control-plane binaries live, building them first when the cache is cold. build-binaries.sh owns the
 * cache layout and the versions (versions.env); this module only asks it, so the two never disagree.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const buildScript = join(here, "build-binaries.sh");

export const CONTROL_PLANE_COMMANDS = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kwok",
] as const;
export type ControlPlaneCommand = (typeof CONTROL_PLANE_COMMANDS)[number];

export interface ClusterBinaries {
  /** The versioned cache directory, e.g. ~/.cache/neurallog/k8s/k8s-v1.37.2_etcd-v3.6.16_kwok-v0.8.0. */
  readonly dir: string;
  /** KWOK's stage definitions as shipped in its module (node/, pod/, volume/). */
  readonly stagesDir: string;
  path(command: ControlPlaneCommand): string;
}

function cacheDir(): string {
  return execFileSync("bash", [buildScript, "--print-dir"], { encoding: "utf8" }).trim();
}

function describe(dir: string): ClusterBinaries {
  return { dir, stagesDir: join(dir, "stages"), path: (command) => join(dir, "bin", command) };
}

/** The cached binaries, or undefined when the cache is cold or incomplete. */
export function cachedClusterBinaries(): ClusterBinaries | undefined {
  const dir = cacheDir();
  return existsSync(join(dir, ".complete")) ? describe(dir) : undefined;
}

/**
 * The binaries, built first if needed. A cold build takes a long time on two cores (see the README); its
 * progress goes to the build log, named on stdout.
 */
export function ensureClusterBinaries(): ClusterBinaries {
  const cached = cachedClusterBinaries();
  if (cached) return cached;
  const result = spawnSync("bash", [buildScript], { stdio: "inherit" });
  if (result.status !== 0) {
    throw new Error(
      `building the test control plane failed (${buildScript} exited ${result.status ?? result.signal})`,
    );
  }
  const built = cachedClusterBinaries();
  if (!built) throw new Error(`${buildScript} succeeded but left no complete cache in ${cacheDir()}`);
  return built;
}
