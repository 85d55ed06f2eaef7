/**
 * Real Argo CD (ARGOCD_VERSION in versions.env, built by build-binaries.sh) in the test platform: a Redis, the
 * repo-server, the application-controller and the applicationset-controller as local processes of the cluster's
 * run directory (process groups in its `pids` file, so the cluster's stop, `cluster:down` and the watchdog end
 * them too). What an Argo CD install puts in the cluster first is applied here: the `argocd` namespace,
 * `argocd-cm` (with the NeuralLog resource customizations of `argocd/argocd-cm-patch.yaml`, merged the way the
 * argocd/ README tells a platform team to), `argocd-secret`, and the application-controller's ServiceAccount with
 * its cluster-wide rights. No argocd-server: nothing here needs the UI/API.
 *
 * Identity: the application-controller acts as its ServiceAccount (`system:serviceaccount:argocd:argocd-application-
 * controller`, through impersonation by the admin credentials), as it does in a real install, because NeuralLog's
 * Tenant admission policy admits Tenant writes from that user only. Tests that sync rendered tenants by hand do it
 * as the same user (`asArgoCd`).
 *
 * Listeners: everything binds 127.0.0.1. The application-controller's metrics server always binds 0.0.0.0 (v3.6.1
 * has no address flag), so the controller runs in a network namespace of its own that has only a loopback
 * (`startContained`): what it binds there is reachable from nowhere else. Unix-socket relays (socat, the same
 * way the real node reaches the API server) carry its connections to the API server, Redis and the repo-server,
 * and bring its metrics port back to a host loopback port for the readiness check.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { KubeConfig, type V1ConfigMap } from "@kubernetes/client-node";
import { parse } from "yaml";
import { freePort } from "../../support/redis-server.ts";
import type { ClusterBinaries, PlatformCommand } from "../binaries.ts";
import { applyManifests } from "../apply-manifests.ts";
import { startProcess, type StartedProcess } from "../process-groups.ts";

const here = dirname(fileURLToPath(import.meta.url));
export const ARGOCD_NAMESPACE = "argocd";
const FIELD_MANAGER = "neurallog-test-argocd-install";
/** The platform's Argo CD settings (resource customizations) that the bootstrap README asks to merge. */
export const ARGOCD_CM_PATCH = join(here, "../../../argocd/argocd-cm-patch.yaml");

export interface ArgoCdOptions {
  readonly binaries: ClusterBinaries;
  readonly runDir: string;
  readonly kubeconfigPath: string;
  readonly log?: (line: string) => void;
}

export interface ArgoCd {
  /** Milliseconds from the first Argo CD process start to all components answering. */
  readonly startMs: number;
  readonly processes: readonly StartedProcess[];
  /** `host:port` of Argo CD's Redis, where it keeps resource trees (applications.ts reads health there). */
  readonly redisAddress: string;
}

const PART_OF = { "app.kubernetes.io/part-of": "argocd" };
const APPLICATION_CONTROLLER = "argocd-application-controller";
/** Who Argo CD's syncs are, to the API server (and to the Tenant admission policy). */
export const ARGOCD_SYNC_USER = `system:serviceaccount:${ARGOCD_NAMESPACE}:${APPLICATION_CONTROLLER}`;

/** The same cluster, as Argo CD's application-controller: for tests that sync rendered objects by hand. */
export function asArgoCd(kc: KubeConfig): KubeConfig {
  const copy = new KubeConfig();
  copy.loadFromOptions({
    clusters: kc.clusters,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
    users: kc.users.map((user) => ({ ...user, impersonateUser: ARGOCD_SYNC_USER })),
  });
  return copy;
}

function installObjects(): object[] {
  const patch = parse(readFileSync(ARGOCD_CM_PATCH, "utf8")) as { data: Record<string, string> };
  const cm: V1ConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "argocd-cm", namespace: ARGOCD_NAMESPACE, labels: PART_OF },
    data: {
      ...patch.data,
      // Tests force a refresh with the argocd.argoproj.io/refresh annotation; this is only the fallback poll.
      "timeout.reconciliation": "20s",
    },
  };
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ARGOCD_NAMESPACE } },
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: APPLICATION_CONTROLLER, namespace: ARGOCD_NAMESPACE, labels: PART_OF },
    },
    {
      // Argo CD's install gives its application-controller every verb on every resource (its ClusterRole
      // argocd-application-controller); cluster-admin is the same.
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: APPLICATION_CONTROLLER, labels: PART_OF },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
      subjects: [{ kind: "ServiceAccount", name: APPLICATION_CONTROLLER, namespace: ARGOCD_NAMESPACE }],
    },
    cm,
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "argocd-secret", namespace: ARGOCD_NAMESPACE, labels: PART_OF },
      type: "Opaque",
      // Read by every component's settings manager (the applicationset webhook handler refuses to start without).
      stringData: { "server.secretkey": randomBytes(32).toString("base64") },
    },
  ];
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  procs: StartedProcess[],
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = procs.find((p) => p.exitStatus() !== null);
    if (dead) {
      const log = readFileSync(dead.logPath, "utf8").trimEnd().split("\n").slice(-15).join("\n");
      throw new Error(`${dead.name} exited (${dead.exitStatus()}) while waiting for ${what}:\n${log}`);
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The Debian redis-server (scripts/install-test-deps.sh installs it), as found on PATH. */
function onPath(name: string): string {
  const dir = (process.env.PATH ?? "").split(":").find((d) => d !== "" && existsSync(join(d, name)));
  if (dir === undefined) throw new Error(`${name} is not on PATH (scripts/install-test-deps.sh installs it)`);
  return join(dir, name);
}

const answers = (url: string) => async () => (await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok;

interface ContainedProcess {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Host loopback ports the process connects to, relayed to the same port on its own loopback. */
  readonly out: readonly number[];
  /** A port the process listens on, relayed back to a free host loopback port. */
  readonly back: number;
}

/**
 * Starts a process in a new network namespace with only a loopback (`unshare --net`), connected to the host's
 * loopback through unix sockets in `socketDir` (filesystem objects cross network namespaces): for each `out`
 * port, socat listens on it inside and a host socat forwards to the host's 127.0.0.1; the `back` port returns
 * the other way. The relays are processes of the run directory too, so teardown ends them with the rest.
 */
async function startContained(runDir: string, socketDir: string, p: ContainedProcess) {
  mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  const socket = (port: number, direction: string) => join(socketDir, `${direction}-${port}.sock`);
  const relays = p.out.map((port) =>
    startProcess(runDir, `${p.name}-relay-${port}`, "socat", [
      `UNIX-LISTEN:${socket(port, "out")},fork,unlink-early,mode=600`,
      `TCP:127.0.0.1:${port}`,
    ]),
  );
  const backPort = await freePort();
  relays.push(
    startProcess(runDir, `${p.name}-relay-back`, "socat", [
      `TCP-LISTEN:${backPort},bind=127.0.0.1,fork,reuseaddr`,
      `UNIX-CONNECT:${socket(p.back, "back")}`,
    ]),
  );
  const inside = [
    "set -e",
    "ip link set lo up",
    ...p.out.map(
      (port) =>
        `socat TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${socket(port, "out")} &`,
    ),
    `socat UNIX-LISTEN:${socket(p.back, "back")},fork,unlink-early,mode=600 TCP:127.0.0.1:${p.back} &`,
    'exec "$@"',
  ].join("\n");
  const child = startProcess(
    runDir,
    p.name,
    "unshare",
    ["--net", "--", "bash", "-c", inside, p.name, p.command, ...p.args],
    p.env,
  );
  return { child, relays, backPort };
}

export async function startArgoCd(options: ArgoCdOptions): Promise<ArgoCd> {
  const { binaries, runDir, kubeconfigPath } = options;
  const log = options.log ?? (() => {});
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  await applyManifests(kc, installObjects(), { fieldManager: FIELD_MANAGER });

  const base = join(runDir, "argocd");
  for (const sub of ["bin", "redis", "tmp", "tls", "ssh"]) mkdirSync(join(base, sub), { recursive: true });
  // One binary serves every component by the name it is called by; links in the run directory also put the run
  // directory into each command line, which is how the teardown recognises its own processes.
  const command = (name: string, target = binaries.path(name as PlatformCommand)) => {
    const link = join(base, "bin", name);
    symlinkSync(target, link);
    return link;
  };
  const setBin = dirname(binaries.path("argocd-repo-server"));
  const env: NodeJS.ProcessEnv = {
    // git-verify-wrapper.sh and gpg-wrapper.sh (repo-server runs the first on every manifest generation).
    PATH: `${setBin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    HOME: join(base, "tmp"),
    TMPDIR: join(base, "tmp"),
    KUBECONFIG: kubeconfigPath,
    // Destination https://kubernetes.default.svc then means "the kubeconfig's cluster", as in Argo CD's Procfile.
    ARGOCD_FAKE_IN_CLUSTER: "true",
    ARGOCD_GPG_ENABLED: "false",
    ARGOCD_ASK_PASS_SOCK: join(base, "tmp", "asksock"),
    ARGOCD_TLS_DATA_PATH: join(base, "tls"),
    ARGOCD_SSH_DATA_PATH: join(base, "ssh"),
  };
  const [redisPort, repoPort, repoMetrics, controllerMetrics, setMetrics, setProbe, setWebhook] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const started = Date.now();
  // redis-server rewrites its process title to argv[0] and the address, so argv[0] must name the run directory.
  const redis = startProcess(runDir, "argocd-redis", command("redis-server", onPath("redis-server")), [
    "--bind",
    "127.0.0.1",
    "--port",
    String(redisPort),
    "--dir",
    join(base, "redis"),
    "--save",
    "",
    "--appendonly",
    "no",
  ]);
  const redisAddress = `127.0.0.1:${redisPort}`;
  const repoServer = startProcess(
    runDir,
    "argocd-repo-server",
    command("argocd-repo-server"),
    [
      "--address=127.0.0.1",
      `--port=${repoPort}`,
      "--metrics-address=127.0.0.1",
      `--metrics-port=${repoMetrics}`,
      "--disable-tls",
      // Required with --disable-tls, or it looks for a client CA.
      "--client-ca-path=",
      `--redis=${redisAddress}`,
      "--loglevel=warn",
    ],
    env,
  );
  const repoAddress = `127.0.0.1:${repoPort}`;
  const apiPort = Number(new URL(kc.getCurrentCluster()!.server).port);
  const controllerKubeconfig = join(base, "application-controller.kubeconfig");
  writeFileSync(controllerKubeconfig, asArgoCd(kc).exportConfig(), { mode: 0o600 });
  const contained = await startContained(runDir, join(base, "net"), {
    name: "argocd-application-controller",
    command: command("argocd-application-controller"),
    out: [apiPort, redisPort, repoPort],
    back: controllerMetrics,
    args: [
      `--kubeconfig=${controllerKubeconfig}`,
      `--namespace=${ARGOCD_NAMESPACE}`,
      `--redis=${redisAddress}`,
      `--repo-server=${repoAddress}`,
      "--repo-server-plaintext",
      `--metrics-port=${controllerMetrics}`,
      // Self-heal retries after 1 s instead of the default backoff from 2 s, capped low: tests wait on it.
      "--self-heal-backoff-timeout-seconds=1",
      "--self-heal-backoff-cap-seconds=5",
      "--loglevel=warn",
    ],
    // ARGOCD_FAKE_IN_CLUSTER makes the in-cluster destination read KUBECONFIG: the same identity there.
    env: { ...env, KUBECONFIG: controllerKubeconfig },
  });
  const controller = contained.child;
  const applicationSets = startProcess(
    runDir,
    "argocd-applicationset-controller",
    command("argocd-applicationset-controller"),
    [
      `--kubeconfig=${kubeconfigPath}`,
      `--namespace=${ARGOCD_NAMESPACE}`,
      `--argocd-repo-server=${repoAddress}`,
      "--repo-server-plaintext",
      `--metrics-addr=127.0.0.1:${setMetrics}`,
      `--probe-addr=127.0.0.1:${setProbe}`,
      `--webhook-addr=127.0.0.1:${setWebhook}`,
      "--loglevel=warn",
    ],
    // Its git generators' poll (default 3 min); tests refresh it with the application-set-refresh annotation,
    // this is only the fallback.
    { ...env, ARGOCD_APPLICATIONSET_CONTROLLER_REQUEUE_AFTER: "20s" },
  );
  const processes = [redis, repoServer, controller, ...contained.relays, applicationSets];
  await waitFor("argocd-repo-server", answers(`http://127.0.0.1:${repoMetrics}/metrics`), processes, 60_000);
  await waitFor(
    "argocd-application-controller",
    answers(`http://127.0.0.1:${contained.backPort}/metrics`),
    processes,
    60_000,
  );
  await waitFor(
    "argocd-applicationset-controller",
    answers(`http://127.0.0.1:${setMetrics}/metrics`),
    processes,
    60_000,
  );
  const startMs = Date.now() - started;
  log(`cluster: Argo CD ready after ${startMs} ms (redis ${redisAddress}, repo-server ${repoAddress})`);
  return { startMs, processes, redisAddress };
}
