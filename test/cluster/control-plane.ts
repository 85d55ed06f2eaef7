/**
 * The test control plane, no Docker: real etcd, kube-apiserver, kube-controller-manager and kube-scheduler
 * (built by build-binaries.sh), and KWOK standing in for the kubelets of a few fake nodes. Everything listens on
 * loopback only, on free ports, with its state in one run directory:
 *
 *   kubeconfig        admin credentials for tests and people (a static bearer token, member of system:masters)
 *   pids              one process group per component, for stop() / `cluster:down` / the watchdog
 *   logs/<name>.log   each component's output
 *   pki/, etcd/, ...  the API server's self-signed serving certificate, etcd's data, service-account keys
 *
 * The API server generates its own serving certificate (cert-dir), so nothing here needs openssl; the kubeconfig
 * trusts exactly that certificate.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CoreV1Api, Health, KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { freePort } from "../support/redis-server.ts";
import type { ClusterBinaries } from "./binaries.ts";
import { argoCdCrdFiles, bootstrapCluster } from "./cluster-bootstrap.ts";
import {
  anyProcessRunning,
  leftBehind,
  pidsFile,
  restartProcess,
  startProcess,
  startWatchdog,
  stopProcessGroups,
  type StartedProcess,
} from "./process-groups.ts";

const here = dirname(fileURLToPath(import.meta.url));

export interface ControlPlaneOptions {
  readonly binaries: ClusterBinaries;
  /** Where the cluster keeps its state; created if missing. Must not hold a running cluster. */
  readonly runDir: string;
  /** Fake nodes managed by KWOK. Default: 3. */
  readonly nodes?: number;
  /** Install the Argo CD CRDs. Default: true; a cluster for one test that needs none starts faster without. */
  readonly argoCdCrds?: boolean;
  /**
   * A process whose death tears the cluster down (the vitest main process), so that even a SIGKILLed test run
   * leaves nothing behind. Default: none (the cluster lives until `cluster:down`).
   */
  readonly ownerPid?: number;
  /** Progress lines. Default: none. */
  readonly log?: (line: string) => void;
}

export interface ControlPlane {
  readonly runDir: string;
  readonly kubeconfigPath: string;
  readonly server: string;
  /** Milliseconds from the first process start to a ready cluster. */
  readonly startMs: number;
  /**
   * Stops kube-apiserver and starts it again on the same port, certificates and etcd (which stays up), the way a
   * control-plane upgrade or crash looks to clients; resolves once /readyz answers again, with the milliseconds
   * the API server was away. Clients keep their kubeconfig.
   */
  restartApiServer(): Promise<number>;
  /**
   * Stops every process and removes the run directory. Safe to call twice. Throws, naming them, if a process
   * group or one of the cluster's ports outlived the stop.
   */
  stop(): Promise<void>;
}

export const ADMIN_USER = "neurallog-test-admin";
const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local";

/** The kubeconfig of the cluster in `runDir`. */
export function kubeconfigPath(runDir: string): string {
  return join(runDir, "kubeconfig");
}

function writeCredentials(runDir: string): string {
  const token = randomBytes(24).toString("hex");
  // token,user,uid,"groups": the static token file format of --token-auth-file.
  writeFileSync(join(runDir, "tokens.csv"), `${token},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`, {
    mode: 0o600,
  });
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  writeFileSync(join(runDir, "sa.key"), privateKey, { mode: 0o600 });
  writeFileSync(join(runDir, "sa.pub"), publicKey);
  return token;
}

function writeKubeconfig(runDir: string, server: string, token: string, caPem: string): string {
  const path = kubeconfigPath(runDir);
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "neurallog-test",
        cluster: { server, "certificate-authority-data": Buffer.from(caPem).toString("base64") },
      },
    ],
    users: [{ name: ADMIN_USER, user: { token } }],
    contexts: [{ name: "neurallog-test", context: { cluster: "neurallog-test", user: ADMIN_USER } }],
    "current-context": "neurallog-test",
  };
  writeFileSync(path, stringify(config), { mode: 0o600 });
  return path;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/**
 * The CA of the API server's self-signed serving certificate, once the file is complete: the API server writes
 * the serving certificate followed by the CA that signed it, and the file can exist before both are in it.
 */
function servingCa(servingCert: string): string | undefined {
  if (!existsSync(servingCert)) return undefined;
  const blocks = readFileSync(servingCert, "utf8").match(PEM_CERTIFICATE);
  return blocks && blocks.length >= 2 ? blocks.at(-1) : undefined;
}

/** KWOK's own fast node and pod stages (nodes Ready with lease heartbeats; pods Running and Ready, Jobs
 * complete, deletions finish), plus our volume provisioner stage. */
function writeKwokConfig(runDir: string, binaries: ClusterBinaries): string {
  const stageFiles = [
    join(binaries.stagesDir, "node/fast/node-initialize.yaml"),
    join(binaries.stagesDir, "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml"),
    join(binaries.stagesDir, "pod/fast/pod-ready.yaml"),
    join(binaries.stagesDir, "pod/fast/pod-complete.yaml"),
    join(binaries.stagesDir, "pod/fast/pod-delete.yaml"),
    join(here, "kwok/volume-provision.yaml"),
  ];
  const path = join(runDir, "kwok.yaml");
  writeFileSync(path, stageFiles.map((file) => readFileSync(file, "utf8").trim()).join("\n---\n") + "\n");
  return path;
}

function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * Polls `check` every `intervalMs` until it returns true; fails early, with the component's log, if one of
 * `processes` exits meanwhile.
 */
async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  processes: readonly StartedProcess[],
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = processes.find((p) => p.exitStatus() !== null);
    if (dead) {
      throw new Error(
        `${dead.name} exited (${dead.exitStatus()}) while waiting for ${what}:\n${tail(dead.logPath)}`,
      );
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) {
      const last = processes.at(-1);
      const logTail = last ? `; last lines of ${last.name}'s log:\n${tail(last.logPath)}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${logTail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

async function etcdHealthy(clientUrl: string): Promise<boolean> {
  const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2_000) });
  const body = (await response.json()) as { health?: string };
  return response.ok && body.health === "true";
}

/**
 * Starts the control plane. Ports are picked free but bound only later by etcd and the API server, so another
 * process can take one in between; that one case is retried once, on new ports.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  try {
    return await startOnce(options);
  } catch (error) {
    const text = String((error as Error).cause ?? "");
    if (!/address already in use/.test(text)) throw error;
    options.log?.(`cluster: a port was taken meanwhile; starting again on new ports`);
    return startOnce(options);
  }
}

async function startOnce(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { binaries, runDir } = options;
  const log = options.log ?? (() => {});
  if (anyProcessRunning(runDir)) throw new Error(`a cluster is already running in ${runDir}`);
  argoCdCrdFiles(); // fails now, with the reason, if they are missing
  await rm(runDir, { recursive: true, force: true });
  for (const sub of ["logs", "pki", "etcd", "home"]) mkdirSync(join(runDir, sub), { recursive: true });
  writeFileSync(pidsFile(runDir), "");

  const watchdogPid = options.ownerPid === undefined ? undefined : startWatchdog(runDir, options.ownerPid);
  // Every loopback port the cluster binds, for the teardown check.
  const ports: number[] = [];
  let stopped = false;
  const stop = async (keepRunDir = false): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const killed = await stopProcessGroups(runDir);
    if (killed.length > 0) log(`cluster: ${killed.join(", ")} needed SIGKILL`);
    const left = await leftBehind(runDir, ports);
    if (watchdogPid !== undefined) {
      try {
        process.kill(watchdogPid, "SIGTERM");
      } catch {
        // It already noticed and exited.
      }
    }
    if (left.length > 0) {
      // The pids file stays, so `npm run cluster:down -- --run-dir` (or a person) can finish the job.
      throw new Error(`the test cluster's teardown left behind (run dir ${runDir} kept): ${left.join("; ")}`);
    }
    if (!keepRunDir) await rm(runDir, { recursive: true, force: true });
  };

  const started = Date.now();
  try {
    const token = writeCredentials(runDir);
    // Components find no ~/.kube or ~/.kwok of the person running the tests.
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: join(runDir, "home") };
    const [etcdClientPort, etcdPeerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    ports.push(etcdClientPort, etcdPeerPort, apiPort);

    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = startProcess(
      runDir,
      "etcd",
      binaries.path("etcd"),
      [
        "--name=neurallog-test",
        `--data-dir=${join(runDir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=neurallog-test=${peerUrl}`,
        // Test data is thrown away with the run directory; fsync would only slow every write on a shared disk.
        "--unsafe-no-fsync",
        "--log-level=warn",
      ],
      env,
    );
    await waitUntil("etcd", () => etcdHealthy(etcdUrl), 20_000, [etcd]);
    log(`cluster: etcd ready on ${etcdUrl}`);

    const server = `https://127.0.0.1:${apiPort}`;
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      // The `kubernetes` Service's endpoints would be this loopback address, which the reconciler refuses; no
      // pod here talks to the API server through the Service anyway.
      "--endpoint-reconciler-type=none",
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(runDir, "pki")}`,
      `--token-auth-file=${join(runDir, "tokens.csv")}`,
      "--authorization-mode=RBAC",
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--service-account-key-file=${join(runDir, "sa.pub")}`,
      `--service-account-signing-key-file=${join(runDir, "sa.key")}`,
      "--service-cluster-ip-range=10.96.0.0/16",
      // As on real clusters: privileged pods are Pod Security's call per namespace, not a global ban, so a
      // rejected privileged pod in a tenant namespace carries the Pod Security message.
      "--allow-privileged=true",
      "--profiling=false",
      // logs/exec/port-forward dial the real node by its address; its hostname resolves nowhere.
      "--kubelet-preferred-address-types=InternalIP,Hostname",
    ];
    let apiserver = startProcess(
      runDir,
      "kube-apiserver",
      binaries.path("kube-apiserver"),
      apiserverArgs,
      env,
    );
    const servingCert = join(runDir, "pki", "apiserver.crt");
    await waitUntil(
      "the API server's serving certificate",
      async () => servingCa(servingCert) !== undefined,
      60_000,
      [apiserver],
    );
    // Clients trust the CA alone (kube-controller-manager publishes it as a ClusterTrustBundle, which refuses a
    // non-CA certificate).
    const caCert = join(runDir, "pki", "ca.crt");
    writeFileSync(caCert, `${servingCa(servingCert)}\n`);
    const kubeconfig = writeKubeconfig(runDir, server, token, readFileSync(caCert, "utf8"));
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const health = new Health(kc);
    await waitUntil(
      "kube-apiserver /readyz",
      () => health.readyz({ signal: AbortSignal.timeout(2_000) }),
      90_000,
      [etcd, apiserver],
    );
    log(`cluster: kube-apiserver ready on ${server} after ${Date.now() - started} ms`);

    const controllerManager = startProcess(
      runDir,
      "kube-controller-manager",
      binaries.path("kube-controller-manager"),
      [
        `--kubeconfig=${kubeconfig}`,
        "--leader-elect=false",
        // No serving endpoint at all: nothing scrapes it, and it is one port fewer to collide or leak.
        "--secure-port=0",
        `--service-account-private-key-file=${join(runDir, "sa.key")}`,
        `--root-ca-file=${caCert}`,
        "--service-cluster-ip-range=10.96.0.0/16",
        // Claims provisioned by KWOK bind within seconds instead of the default 15 s resync.
        "--pvclaimbinder-sync-period=2s",
      ],
      env,
    );
    const scheduler = startProcess(
      runDir,
      "kube-scheduler",
      binaries.path("kube-scheduler"),
      [`--kubeconfig=${kubeconfig}`, "--leader-elect=false", "--secure-port=0"],
      env,
    );
    const kwok = startProcess(
      runDir,
      "kwok",
      binaries.path("kwok"),
      [
        `--kubeconfig=${kubeconfig}`,
        `--config=${writeKwokConfig(runDir, binaries)}`,
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--node-lease-duration-seconds=40",
        "--cidr=10.244.0.0/16",
        "--node-ip=10.244.0.1",
        // No kwok server at all: with a node port it would listen on 0.0.0.0 (for logs/exec we do not use).
        "--node-port=0",
        "--server-address=",
      ],
      env,
    );
    const all = [etcd, apiserver, controllerManager, scheduler, kwok];

    await bootstrapCluster(kc, {
      nodes: options.nodes ?? 3,
      ...(options.argoCdCrds === undefined ? {} : { argoCdCrds: options.argoCdCrds }),
    });
    log(`cluster: nodes, StorageClass and Argo CD CRDs in place after ${Date.now() - started} ms`);
    const core = kc.makeApiClient(CoreV1Api);
    await waitUntil(
      "fake nodes Ready",
      async () => {
        const nodes = await core.listNode({ labelSelector: "type=kwok" });
        return (
          nodes.items.length === (options.nodes ?? 3) &&
          nodes.items.every((node) =>
            node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
          )
        );
      },
      30_000,
      all,
    );
    // The service account controller creates `default` in each namespace; pods cannot be admitted before.
    await waitUntil(
      "kube-controller-manager (default ServiceAccount)",
      async () =>
        (await core.readNamespacedServiceAccount({ name: "default", namespace: "default" })) !== undefined,
      30_000,
      all,
    );
    const startMs = Date.now() - started;
    log(`cluster: ready after ${startMs} ms (KUBECONFIG=${kubeconfig})`);
    const restartApiServer = async (): Promise<number> => {
      const stoppedAt = Date.now();
      // The certificates stay in pki/: the API server reuses a serving certificate it finds there.
      apiserver = await restartProcess(
        runDir,
        apiserver,
        binaries.path("kube-apiserver"),
        apiserverArgs,
        env,
      );
      await waitUntil(
        "kube-apiserver /readyz after a restart",
        () => health.readyz({ signal: AbortSignal.timeout(2_000) }),
        90_000,
        [etcd, apiserver],
      );
      const awayMs = Date.now() - stoppedAt;
      log(`cluster: kube-apiserver restarted, ready again after ${awayMs} ms`);
      return awayMs;
    };
    return { runDir, kubeconfigPath: kubeconfig, server, startMs, restartApiServer, stop: () => stop() };
  } catch (error) {
    const logs = join(runDir, "logs");
    // A port taken by someone else is why many starts fail, so a leftover here is logged, not thrown.
    await stop(true).catch((teardown: unknown) => log(`cluster: ${(teardown as Error).message}`));
    // Keep only the logs for the post-mortem, not etcd's data or the credentials.
    for (const entry of readdirSync(runDir)) {
      if (entry !== "logs") rmSync(join(runDir, entry), { recursive: true, force: true });
    }
    throw new Error(`the test cluster did not start (logs kept in ${logs})`, { cause: error });
  }
}
