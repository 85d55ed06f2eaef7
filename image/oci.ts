/**
 * Writes an OCI image layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md) from
 * directory trees, one layer each. Everything that could differ between two builds of the same inputs is fixed:
 * tar entries sorted by name, owner root, mtimes at SOURCE_DATE_EPOCH, no atime/ctime/ACLs/xattrs, modes
 * normalized, gzip without a name or time stamp, JSON written in a fixed key order. Same inputs, same digest.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

export type ImageConfig = {
  user: string;
  env: string[];
  entrypoint: string[];
  cmd?: string[];
  workingDir?: string;
  exposedPorts?: string[];
  stopSignal?: string;
  labels: Record<string, string>;
};

/**
 * `debian`: a root file system unpacked from .deb files, whose modes are the packages' own (and /tmp's 1777,
 * which `go-w` would break): only normalized to readable. Other layers come from checkouts and npm, whose
 * modes follow the umask: group and other write is removed.
 */
export type Layer = { name: string; dir: string; debian?: boolean };
export type LayoutResult = {
  digest: string;
  layers: { name: string; digest: string; size: number; diffId: string }[];
};

const sha256File = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

function writeBlob(blobs: string, bytes: Buffer): { digest: string; size: number } {
  const hex = createHash("sha256").update(bytes).digest("hex");
  writeFileSync(path.join(blobs, hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/** One layer: a deterministic tar of `dir`, gzip-compressed into the layout's blobs. */
function writeLayer(blobs: string, scratch: string, layer: Layer, epoch: number) {
  const tar = path.join(scratch, `${layer.name}.tar`);
  execFileSync("tar", [
    "--create",
    "--file",
    tar,
    "--directory",
    layer.dir,
    "--sort=name",
    "--format=posix",
    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
    `--mtime=@${epoch}`,
    "--clamp-mtime",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    layer.debian ? "--mode=a+rX" : "--mode=a+rX,u+w,go-w",
    "--no-acls",
    "--no-xattrs",
    "--no-selinux",
    ".",
  ]);
  const diffId = `sha256:${sha256File(tar)}`;
  // gzip -n: no file name and no time stamp in the header; level 9 with Debian's gzip is byte-stable.
  execFileSync("gzip", ["-n", "-9", "--force", tar]);
  const gz = `${tar}.gz`;
  const hex = sha256File(gz);
  const size = statSync(gz).size;
  renameSync(gz, path.join(blobs, hex));
  return { name: layer.name, digest: `sha256:${hex}`, size, diffId };
}

/** Builds the layout in `out` (replaced) and returns the manifest digest, the one a registry keeps. */
export function writeLayout(
  out: string,
  layers: Layer[],
  config: ImageConfig,
  epoch: number,
  refName: string,
): LayoutResult {
  rmSync(out, { recursive: true, force: true });
  const blobs = path.join(out, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const scratch = path.join(out, ".scratch");
  mkdirSync(scratch);
  const written = layers.map((layer) => writeLayer(blobs, scratch, layer, epoch));
  rmSync(scratch, { recursive: true });

  const created = new Date(epoch * 1000).toISOString();
  const imageConfig = {
    created,
    architecture: "amd64",
    os: "linux",
    config: {
      User: config.user,
      Env: config.env,
      Entrypoint: config.entrypoint,
      ...(config.cmd ? { Cmd: config.cmd } : {}),
      ...(config.workingDir ? { WorkingDir: config.workingDir } : {}),
      ...(config.exposedPorts
        ? { ExposedPorts: Object.fromEntries(config.exposedPorts.map((p) => [p, {}])) }
        : {}),
      ...(config.stopSignal ? { StopSignal: config.stopSignal } : {}),
      Labels: config.labels,
    },
    rootfs: { type: "layers", diff_ids: written.map((l) => l.diffId) },
    history: written.map((l) => ({ created, created_by: `neurallog image builder: ${l.name} layer` })),
  };
  const configBlob = writeBlob(blobs, Buffer.from(JSON.stringify(imageConfig)));
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...configBlob },
    layers: written.map((l) => ({
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      digest: l.digest,
      size: l.size,
    })),
    annotations: { "org.opencontainers.image.created": created },
  };
  const manifestBlob = writeBlob(blobs, Buffer.from(JSON.stringify(manifest)));
  writeFileSync(path.join(out, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        ...manifestBlob,
        annotations: { "org.opencontainers.image.ref.name": refName },
      },
    ],
  };
  writeFileSync(path.join(out, "index.json"), JSON.stringify(index));
  return { digest: manifestBlob.digest, layers: written };
}

/** The manifest digest of the first image in a layout (what `writeLayout` returned when it built it). */
export function layoutDigest(out: string): string {
  const index = JSON.parse(readFileSync(path.join(out, "index.json"), "utf8")) as {
    manifests: { digest: string }[];
  };
  return index.manifests[0]!.digest;
}
