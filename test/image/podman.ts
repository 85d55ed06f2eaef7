/**
 * Runs the built image under podman with the settings of a rendered pod, read from the rendered manifests (the
 * synth golden files, which test/synth checks against `neurallog synth`), not re-typed: user and group, read-only
 * root, dropped capabilities, no privilege escalation, emptyDirs as the only writable tmpfs, the rendered command
 * and environment (configMapKeyRef resolved from the rendered ConfigMap). The network is the host's loopback
 * (`--network host`, every listener bound to 127.0.0.1): the real Redis and the test API server listen there.
 *
 * podman runs rootful with runc (crun refuses this machine's hybrid cgroups) and ulimits below the hard limits
 * (CONTAINERS_CONF, written by global-setup.ts).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";

export const ROOT = path.resolve(import.meta.dirname, "../..");
const GOLDEN = path.join(ROOT, "test/synth/__snapshots__/examples");

type EnvVar = {
  name: string;
  value?: string;
  valueFrom?: { configMapKeyRef?: { name: string; key: string } };
};
type Container = {
  name: string;
  command: string[];
  args?: string[];
  readinessProbe?: { exec?: { command: string[] } };
  env?: EnvVar[];
  securityContext: {
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
    runAsNonRoot?: boolean;
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
};
type PodSpec = {
  securityContext: { runAsUser: number; runAsGroup: number; runAsNonRoot?: boolean };
  containers: Container[];
  volumes?: { name: string; emptyDir?: { sizeLimit?: string } }[];
};
type Manifest = {
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
  data?: Record<string, string>;
};

/** Every rendered manifest of the examples (platform and tenants). */
export function renderedManifests(): Manifest[] {
  const files = readdirSync(GOLDEN, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".yaml"));
  return files.map((f) => parse(readFileSync(path.join(GOLDEN, f), "utf8")) as Manifest);
}

function podSpecOf(m: Manifest): PodSpec | undefined {
  const spec = m.spec as {
    template?: { spec: PodSpec };
    jobTemplate?: { spec: { template: { spec: PodSpec } } };
  };
  return spec?.template?.spec ?? spec?.jobTemplate?.spec.template.spec;
}

/** The pod spec of one rendered workload, e.g. ("Deployment", "acme-server"). */
export function renderedPod(kind: string, name: string): PodSpec {
  const m = renderedManifests().find((x) => x.kind === kind && x.metadata.name === name);
  const pod = m && podSpecOf(m);
  if (!pod) throw new Error(`no rendered ${kind} ${name}`);
  return pod;
}

/** Every container that runs the NeuralLog image, with its pod (image pinned in tenants/_platform.yaml). */
export function renderedNeurallogContainers(
  image: string,
): { pod: PodSpec; container: Container & { image: string } }[] {
  const out = [];
  for (const m of renderedManifests()) {
    const pod = podSpecOf(m);
    for (const c of (pod?.containers ?? []) as (Container & { image: string })[])
      if (c.image === image) out.push({ pod: pod!, container: c });
  }
  return out;
}

export function configMapData(name: string): Record<string, string> {
  const m = renderedManifests().find((x) => x.kind === "ConfigMap" && x.metadata.name === name);
  if (!m?.data) throw new Error(`no rendered ConfigMap ${name}`);
  return m.data;
}

export type RunOptions = {
  /** Host directories for the pod's non-emptyDir volumes, by volume name. */
  volumes?: Record<string, string>;
  /** Environment overriding or adding to the rendered one (e.g. PORT, REDIS_URL, HOST). */
  env?: Record<string, string>;
  /** Arguments replacing the rendered command after `neurallog` (default: the rendered ones). */
  args?: string[];
  /** Extra bind mounts `host:container[:ro]`, for what a rendered pod gets from elsewhere (a kubeconfig). */
  mounts?: string[];
  name: string;
  /** podman's --network; default the host's (listeners on 127.0.0.1). "none": loopback of its own only. */
  network?: string;
};

/** `podman run` arguments for `container` of `pod`, as the kubelet would run it. */
export function podmanRunArgs(
  image: string,
  pod: PodSpec,
  container: Container,
  options: RunOptions,
): string[] {
  const sc = container.securityContext;
  const user = pod.securityContext.runAsUser;
  if ((sc.runAsNonRoot ?? pod.securityContext.runAsNonRoot) && user === 0)
    throw new Error("runAsNonRoot with uid 0");
  const args = [
    "run",
    "--rm",
    "--name",
    options.name,
    "--network",
    options.network ?? "host",
    "--pull",
    "never",
  ];
  args.push("--user", `${user}:${pod.securityContext.runAsGroup}`);
  // --read-only-tmpfs=false: podman would otherwise add tmpfs on /tmp, /run, /var/tmp; only emptyDirs are writable.
  if (sc.readOnlyRootFilesystem) args.push("--read-only", "--read-only-tmpfs=false");
  for (const cap of sc.capabilities?.drop ?? []) args.push(`--cap-drop=${cap}`);
  if (sc.allowPrivilegeEscalation === false) args.push("--security-opt", "no-new-privileges");
  const emptyDirs = new Map((pod.volumes ?? []).filter((v) => v.emptyDir).map((v) => [v.name, v.emptyDir!]));
  for (const mount of container.volumeMounts ?? []) {
    const emptyDir = emptyDirs.get(mount.name);
    if (emptyDir) {
      const size = emptyDir.sizeLimit ? `,size=${emptyDir.sizeLimit.replace(/i$/, "").toLowerCase()}` : "";
      args.push("--tmpfs", `${mount.mountPath}:rw,mode=1777${size}`);
    } else {
      const host = options.volumes?.[mount.name];
      if (!host) throw new Error(`volume ${mount.name} (${mount.mountPath}) needs a host directory`);
      args.push("--volume", `${host}:${mount.mountPath}:${mount.readOnly ? "ro" : "rw"}`);
    }
  }
  for (const m of options.mounts ?? []) args.push("--volume", m);
  const env = new Map<string, string>();
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.configMapKeyRef;
    if (e.value !== undefined) env.set(e.name, e.value);
    else if (ref) env.set(e.name, configMapData(ref.name)[ref.key]!);
  }
  for (const [k, v] of Object.entries(options.env ?? {})) env.set(k, v);
  for (const [k, v] of env) args.push("--env", `${k}=${v}`);
  const [entry, ...rendered] = container.command;
  args.push("--entrypoint", entry!, image, ...(options.args ?? [...rendered, ...(container.args ?? [])]));
  return args;
}

export type Running = { child: ChildProcess; output: () => string; exited: Promise<number | null> };

export function podman(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("podman", args, { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts a container in the background; `stop()` removes it (by its name) whatever state it is in. */
export function startContainer(args: string[]): Running & { stop(): void } {
  const child = spawn("podman", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const name = args[args.indexOf("--name") + 1]!;
  return {
    child,
    output: () => out,
    exited,
    stop: () => void podman(["rm", "--force", "--time", "5", name]),
  };
}

/** Polls `check` until it holds; fails with `what` and the container's output when the container exits first. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  running?: Running,
  timeoutMs = 60_000,
) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void running?.exited.then(() => (exited = true));
  while (!(await check().catch(() => false))) {
    if (exited) throw new Error(`${what}: the container exited\n${running!.output()}`);
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms\n${running?.output() ?? ""}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
