/**
 * Where the test platform's binaries live, building them first when the cache is cold. build-binaries.sh owns the
 * cache layout and the versions (versions.env); this module only asks it, so the two never disagree.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const buildScript = join(here, "build-binaries.sh");

/** Which build set (build-binaries.sh) provides each command. */
const SET_OF = {
  etcd: "etcd",
  "kube-apiserver": "kubernetes",
  "kube-controller-manager": "kubernetes",
  "kube-scheduler": "kubernetes",
  kubelet: "kubernetes",
  "kube-proxy": "kubernetes",
  kubectl: "kubernetes",
  kwok: "kwok",
  argocd: "argocd",
  "argocd-repo-server": "argocd",
  "argocd-application-controller": "argocd",
  "argocd-applicationset-controller": "argocd",
  coredns: "coredns",
  "kube-router": "kube-router",
  pause: "pause",
  promtool: "prometheus",
} as const;
export type PlatformCommand = keyof typeof SET_OF;
export type BinarySet = (typeof SET_OF)[PlatformCommand];

/** What the control plane itself runs (KWOK nodes only). */
export const CONTROL_PLANE_COMMANDS = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kwok",
] as const satisfies readonly PlatformCommand[];
const CONTROL_PLANE_SETS: readonly BinarySet[] = ["kubernetes", "etcd", "kwok"];

export interface ClusterBinaries {
  /** KWOK's stage definitions as shipped in its module (node/, pod/, volume/). */
  readonly stagesDir: string;
  path(command: PlatformCommand): string;
  /** The cache directory of one set, e.g. ~/.cache/neurallog/bin/argocd-v3.6.1_k8s-v1.37.2. */
  setDir(set: BinarySet): string;
}

const dirs = new Map<BinarySet, string>();
function setDir(set: BinarySet): string {
  let dir = dirs.get(set);
  if (dir === undefined) {
    dir = execFileSync("bash", [buildScript, "--print-dir", set], { encoding: "utf8" }).trim();
    dirs.set(set, dir);
  }
  return dir;
}

const binaries: ClusterBinaries = {
  stagesDir: join(setDir("kwok"), "stages"),
  path: (command) => join(setDir(SET_OF[command]), "bin", command),
  setDir,
};

function complete(sets: readonly BinarySet[]): boolean {
  return sets.every((set) => existsSync(join(setDir(set), ".complete")));
}

/** The cached binaries of `sets` (default: the control plane's), or undefined when any is missing. */
export function cachedClusterBinaries(
  sets: readonly BinarySet[] = CONTROL_PLANE_SETS,
): ClusterBinaries | undefined {
  return complete(sets) ? binaries : undefined;
}

/**
 * The binaries of `sets` (default: the control plane's), built first if needed. A cold build takes a long time
 * on two cores (see the README); its progress goes to the build log, named on stdout.
 */
export function ensureClusterBinaries(sets: readonly BinarySet[] = CONTROL_PLANE_SETS): ClusterBinaries {
  if (complete(sets)) return binaries;
  const result = spawnSync("bash", [buildScript, ...sets], { stdio: "inherit" });
  if (result.status !== 0) {
    throw new Error(
      `building ${sets.join(", ")} failed (${buildScript} exited ${result.status ?? result.signal})`,
    );
  }
  if (!complete(sets)) throw new Error(`${buildScript} succeeded but left ${sets.join(", ")} incomplete`);
  return binaries;
}
