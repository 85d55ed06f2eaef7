/**
 * A real kubelet node beside the KWOK nodes: containerd + runc, a bridge CNI, kube-proxy (iptables), CoreDNS for
 * cluster DNS and kube-router for NetworkPolicy only, all in a network, pid and mount namespace of their own,
 * reached from the host through one veth pair. Tainted `neurallog.io/real-node=true:NoSchedule` and labelled
 * `neurallog.io/node=real`, so only pods that ask for it land there. Images come from OCI layouts imported into
 * containerd; nothing is pulled.
 *
 * Host side, everything is named after the run directory's hash (netns `nl-node-<id>`, veth `nlh<id>`, cgroup
 * `/nl-node-<id>` in every v1 hierarchy), so `stopRealNode(runDir)` can remove it also after the owner died.
 * Nothing of the node touches the host's iptables or sysctls: its rules live in its network namespace, its
 * kernel settings are files bind-mounted over /proc/sys in its mount namespace.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
} from "@kubernetes/client-node";
import { stringify } from "yaml";
import type { BinarySet, ClusterBinaries } from "../binaries.ts";
import { startProcess, type StartedProcess } from "../process-groups.ts";
import { localImages } from "./node-images.ts";

const here = dirname(fileURLToPath(import.meta.url));

export const REAL_NODE_NAME = "neurallog-real-node";
/** The label and taint a pod selects and tolerates to run on the real node. */
export const REAL_NODE_LABEL = { key: "neurallog.io/node", value: "real" } as const;
export const REAL_NODE_TAINT = {
  key: "neurallog.io/real-node",
  value: "true",
  effect: "NoSchedule",
} as const;
/** Pod addresses, private to the node's network namespace. */
const POD_CIDR = "10.250.0.0/24";
const DNS_SERVICE_IP = "10.96.0.10";
const API_RELAY_PORT = 6443;
/** The binary sets (build-binaries.sh) a cluster with the real node runs. */
export const REAL_NODE_BINARY_SETS: readonly BinarySet[] = [
  "kubernetes",
  "etcd",
  "kwok",
  "coredns",
  "kube-router",
  "pause",
];

export interface RealNodeOptions {
  readonly binaries: ClusterBinaries;
  /** The cluster's run directory (control-plane.ts); the node keeps its state in `<runDir>/node`. */
  readonly runDir: string;
  /** The admin kubeconfig of the cluster. */
  readonly kubeconfigPath: string;
  /** OCI image layouts to import (`…/pause:…` is the sandbox image, `…/coredns:…` cluster DNS). Default: `localImages()`. */
  readonly images?: readonly ImageLayout[];
  readonly log?: (line: string) => void;
}

export interface ImageLayout {
  /** The name pods use, e.g. `localhost/neurallog/pause:test`. */
  readonly ref: string;
  /** An OCI image layout directory (index.json, oci-layout, blobs/). */
  readonly dir: string;
}

export interface RealNode {
  readonly name: string;
  /** The node's address (its end of the veth), reachable from the host. */
  readonly ip: string;
  /** Milliseconds from the start to the node Ready. */
  readonly startMs: number;
  /** Imports one more image layout into the node's containerd. */
  importImage(image: ImageLayout): void;
  stop(): Promise<void>;
}

interface NodeNames {
  readonly id: string;
  readonly netns: string;
  readonly hostVeth: string;
  readonly nodeVeth: string;
  readonly cgroup: string;
  readonly dir: string;
}

function names(runDir: string): NodeNames {
  const id = createHash("sha256").update(runDir).digest("hex").slice(0, 8);
  return {
    id,
    netns: `nl-node-${id}`,
    hostVeth: `nlh${id}`,
    nodeVeth: `nln${id}`,
    cgroup: `nl-node-${id}`,
    dir: join(runDir, "node"),
  };
}

function sh(command: string, args: readonly string[]): string {
  return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** A /30 of 10.201.0.0/16 no other interface of the host uses (several test runs may each have a node). */
function freeSubnet(): { hostIp: string; nodeIp: string } {
  const used = sh("ip", ["-o", "-4", "addr", "show"]);
  for (let third = 0; third < 256; third++) {
    for (let fourth = 0; fourth < 256; fourth += 4) {
      const prefix = `10.201.${third}.`;
      if (used.includes(`${prefix}${fourth + 1}/`)) continue;
      return { hostIp: `${prefix}${fourth + 1}`, nodeIp: `${prefix}${fourth + 2}` };
    }
  }
  throw new Error("no free /30 in 10.201.0.0/16 for the real node's veth");
}

/**
 * The cgroup hierarchies (cpu, memory, pids, …, and the near-empty cgroup2 `unified`): the kubelet's cgroupRoot
 * must exist in each v1 one beforehand, and it creates its cgroups in all of them.
 */
function cgroupHierarchies(withUnified = false): string[] {
  return readdirSync("/sys/fs/cgroup")
    .filter((name) => withUnified || name !== "unified")
    .map((name) => join("/sys/fs/cgroup", name))
    .filter((path) => existsSync(join(path, "cgroup.procs")));
}

function createCgroupRoot(cgroup: string): void {
  for (const hierarchy of cgroupHierarchies()) {
    const dir = join(hierarchy, cgroup);
    mkdirSync(dir, { recursive: true });
    // A new cpuset cgroup starts with no CPUs and no memory nodes; nothing could run in it.
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      if (existsSync(join(dir, file))) writeFileSync(join(dir, file), readFileSync(join(hierarchy, file)));
    }
  }
}

/** Removes a cgroup tree, deepest first. A cgroup is removed with rmdir once no process is in it. */
function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir)) {
    const child = join(dir, entry);
    if (statSync(child).isDirectory()) removeCgroupTree(child);
  }
  rmdirSync(dir);
}

async function removeCgroups(cgroup: string): Promise<string[]> {
  const left: string[] = [];
  for (const hierarchy of cgroupHierarchies(true)) {
    const dir = join(hierarchy, cgroup);
    // The processes of a killed pid namespace take a moment to leave their cgroups.
    for (let attempt = 0; ; attempt++) {
      try {
        removeCgroupTree(dir);
        break;
      } catch (error) {
        if (attempt >= 50) {
          left.push(`cgroup ${dir} (${(error as Error).message})`);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
  return left;
}

function kubeconfigFor(server: string, caPem: string, token: string): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "c", cluster: { server, "certificate-authority-data": Buffer.from(caPem).toString("base64") } },
    ],
    users: [{ name: "u", user: { token } }],
    contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
    "current-context": "c",
  });
}

/**
 * One ServiceAccount per node daemon in kube-system, bound to what it needs, and a token for each process: the
 * kubelet gets the bootstrap `system:node` role, kube-proxy `system:node-proxier`, CoreDNS and kube-router
 * read-only roles of their own. CoreDNS runs as a pod (`clusterDns`), which mounts its account's token itself.
 */
async function daemonTokens(kc: KubeConfig): Promise<Record<"kubelet" | "proxy" | "router", string>> {
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const readRole = (name: string, rules: { apiGroups: string[]; resources: string[] }[]) =>
    rbac.createClusterRole({
      body: {
        metadata: { name },
        rules: rules.map((rule) => ({ ...rule, verbs: ["get", "list", "watch"] })),
      },
    });
  await readRole("neurallog:node-dns", [
    { apiGroups: [""], resources: ["services", "pods", "namespaces"] },
    { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"] },
  ]);
  await readRole("neurallog:node-router", [
    { apiGroups: [""], resources: ["pods", "namespaces", "nodes", "services", "endpoints"] },
    { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"] },
    { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"] },
  ]);
  const roles = {
    kubelet: "system:node",
    proxy: "system:node-proxier",
    dns: "neurallog:node-dns",
    router: "neurallog:node-router",
  };
  const tokens: Partial<Record<keyof typeof roles, string>> = {};
  for (const [daemon, role] of Object.entries(roles) as [keyof typeof roles, string][]) {
    const name = `neurallog-node-${daemon}`;
    await core.createNamespacedServiceAccount({ namespace: "kube-system", body: { metadata: { name } } });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
        subjects: [{ kind: "ServiceAccount", name, namespace: "kube-system" }],
      },
    });
    if (daemon === "dns") continue;
    const request = await core.createNamespacedServiceAccountToken({
      name,
      namespace: "kube-system",
      body: { spec: { audiences: [], expirationSeconds: 7 * 24 * 3600 } },
    });
    tokens[daemon] = request.status?.token ?? "";
  }
  return tokens as Record<"kubelet" | "proxy" | "router", string>;
}

const CLUSTER_DNS_LABELS = { "k8s-app": "kube-dns" };

/**
 * The `kubernetes` Service's backend is the API relay on the node's address, an EndpointSlice written here since
 * it is no pod. `kube-dns` selects the CoreDNS pod (`clusterDns`).
 */
async function nodeServices(kc: KubeConfig, nodeIp: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  await core.createNamespacedService({
    namespace: "kube-system",
    body: {
      metadata: { name: "kube-dns", labels: CLUSTER_DNS_LABELS },
      spec: {
        selector: CLUSTER_DNS_LABELS,
        clusterIP: DNS_SERVICE_IP,
        ports: [
          { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
          { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
        ],
      },
    },
  });
  const slice = (
    namespace: string,
    service: string,
    ports: { name: string; port: number; protocol: string }[],
  ) =>
    discovery.createNamespacedEndpointSlice({
      namespace,
      body: {
        metadata: {
          name: `${service}-real-node`,
          labels: {
            "kubernetes.io/service-name": service,
            "endpointslice.kubernetes.io/managed-by": "neurallog-test",
          },
        },
        addressType: "IPv4",
        endpoints: [{ addresses: [nodeIp], conditions: { ready: true }, nodeName: REAL_NODE_NAME }],
        ports,
      },
    });
  await slice("default", "kubernetes", [{ name: "https", port: API_RELAY_PORT, protocol: "TCP" }]);
}

/**
 * Cluster DNS as on any cluster: a CoreDNS Deployment in kube-system labelled `k8s-app: kube-dns`, on the real
 * node, behind the `kube-dns` Service. A process on the node's address would answer too, but NetworkPolicies
 * select DNS by those pod labels (tenants' `allow-dns-egress`), so only a pod tests them as they run for real.
 * Port 53 as a non-root user through the namespaced, safe sysctl that opens low ports.
 */
async function clusterDns(kc: KubeConfig, image: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedConfigMap({
    namespace: "kube-system",
    body: {
      metadata: { name: "coredns" },
      data: {
        // Cluster names only: no upstream resolver (there is no internet here, and none is wanted).
        Corefile: `.:53 {
    errors
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
}
`,
      },
    },
  });
  await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
    namespace: "kube-system",
    body: {
      metadata: { name: "coredns", labels: CLUSTER_DNS_LABELS },
      spec: {
        replicas: 1,
        selector: { matchLabels: CLUSTER_DNS_LABELS },
        template: {
          metadata: { labels: CLUSTER_DNS_LABELS },
          spec: {
            serviceAccountName: "neurallog-node-dns",
            // Its own resolver is itself: it must not look up through the cluster DNS it serves.
            dnsPolicy: "Default",
            nodeSelector: { [REAL_NODE_LABEL.key]: REAL_NODE_LABEL.value },
            tolerations: [{ key: REAL_NODE_TAINT.key, operator: "Exists", effect: REAL_NODE_TAINT.effect }],
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              runAsGroup: 65532,
              seccompProfile: { type: "RuntimeDefault" },
              sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: "53" }],
            },
            containers: [
              {
                name: "coredns",
                image,
                imagePullPolicy: "Never",
                args: ["-conf", "/etc/coredns/Corefile"],
                ports: [
                  { name: "dns", containerPort: 53, protocol: "UDP" },
                  { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
                ],
                readinessProbe: { httpGet: { path: "/ready", port: 8181 }, periodSeconds: 1 },
                securityContext: {
                  readOnlyRootFilesystem: true,
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ["ALL"] },
                },
                volumeMounts: [{ name: "config", mountPath: "/etc/coredns", readOnly: true }],
              },
            ],
            volumes: [{ name: "config", configMap: { name: "coredns" } }],
          },
        },
      },
    },
  });
}

/** Whether the `kube-dns` Service has a ready CoreDNS endpoint. */
async function clusterDnsReady(kc: KubeConfig): Promise<boolean> {
  const slices = await kc.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({
    namespace: "kube-system",
    labelSelector: "kubernetes.io/service-name=kube-dns",
  });
  return slices.items.some((slice) => (slice.endpoints ?? []).some((e) => e.conditions?.ready === true));
}

function writeConfigs(
  n: NodeNames,
  ips: { nodeIp: string },
  binaries: ClusterBinaries,
  sandboxImage: string,
  apiSocket: string,
  caPem: string,
  tokens: Record<"kubelet" | "proxy" | "router", string>,
): void {
  const d = n.dir;
  for (const sub of ["logs", "containerd", "kubelet/pki", "cni/net.d", "cni/ipam", "pod-logs"]) {
    mkdirSync(join(d, sub), { recursive: true });
  }
  const relay = `https://127.0.0.1:${API_RELAY_PORT}`;
  writeFileSync(join(d, "kubelet.kubeconfig"), kubeconfigFor(relay, caPem, tokens.kubelet), { mode: 0o600 });
  writeFileSync(join(d, "kube-proxy.kubeconfig"), kubeconfigFor(relay, caPem, tokens.proxy), { mode: 0o600 });
  writeFileSync(join(d, "kube-router.kubeconfig"), kubeconfigFor(relay, caPem, tokens.router), {
    mode: 0o600,
  });
  const env = {
    NODE_NAME: REAL_NODE_NAME,
    NODE_IP: ips.nodeIp,
    NODE_VETH: n.nodeVeth,
    NODE_TAINT: `${REAL_NODE_TAINT.key}=${REAL_NODE_TAINT.value}:${REAL_NODE_TAINT.effect}`,
    NODE_LABELS: `${REAL_NODE_LABEL.key}=${REAL_NODE_LABEL.value}`,
    API_SOCKET: apiSocket,
    KUBELET: binaries.path("kubelet"),
    KUBE_PROXY: binaries.path("kube-proxy"),
    KUBE_ROUTER: binaries.path("kube-router"),
  };
  writeFileSync(
    join(d, "node.env"),
    Object.entries(env)
      .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
      .join("\n") + "\n",
  );
  const c = join(d, "containerd");
  // containerd 1.6 config v2. restrict_oom_score_adj: the machine lacks CAP_SYS_RESOURCE, so runc may only raise
  // oom_score_adj; without it every sandbox fails. Everything lives under the node directory or its private /run.
  writeFileSync(
    join(d, "containerd.toml"),
    `version = 2
root = "${c}/root"
state = "/run/containerd"
[grpc]
  address = "${c}/containerd.sock"
[ttrpc]
  address = "${c}/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${c}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${sandboxImage}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "/run/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${d}/cni/net.d"
`,
  );
  writeFileSync(
    join(d, "cni/net.d/10-bridge.conflist"),
    JSON.stringify(
      {
        cniVersion: "1.0.0",
        name: "neurallog-node",
        plugins: [
          {
            type: "bridge",
            bridge: "cni0",
            isGateway: true,
            // Pods reach nothing beyond the node: no masquerade, no default route out of its namespace.
            ipMasq: false,
            hairpinMode: true,
            ipam: {
              type: "host-local",
              ranges: [[{ subnet: POD_CIDR }]],
              routes: [{ dst: "0.0.0.0/0" }],
              dataDir: join(d, "cni/ipam"),
            },
          },
          { type: "portmap", capabilities: { portMappings: true } },
        ],
      },
      null,
      2,
    ),
  );
  // Pods resolve cluster names only: no upstream resolver (there is no internet here, and none is wanted).
  writeFileSync(join(d, "resolv.conf"), `nameserver ${DNS_SERVICE_IP}\n`);
  writeFileSync(
    join(d, "kubelet.yaml"),
    stringify({
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      failCgroupV1: false,
      failSwapOn: false,
      cgroupDriver: "cgroupfs",
      cgroupRoot: `/${n.cgroup}`,
      // Imported images can never be pulled again: they must never be collected.
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      evictionHard: {
        "memory.available": "1%",
        "nodefs.available": "1%",
        "imagefs.available": "1%",
        "nodefs.inodesFree": "1%",
      },
      // Test only: the API server has no kubelet client certificate; the port is inside the node's namespace.
      authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
      authorization: { mode: "AlwaysAllow" },
      address: ips.nodeIp,
      readOnlyPort: 0,
      healthzPort: 0,
      clusterDNS: [DNS_SERVICE_IP],
      clusterDomain: "cluster.local",
      resolvConf: join(d, "resolv.conf"),
      podLogsDir: join(d, "pod-logs"),
      maxPods: 40,
      // The node shares the machine's kernel; it must not claim to own its settings.
      protectKernelDefaults: false,
      serializeImagePulls: false,
    }),
  );
  writeFileSync(
    join(d, "kube-proxy.yaml"),
    stringify({
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      clientConnection: { kubeconfig: join(d, "kube-proxy.kubeconfig") },
      mode: "iptables",
      clusterCIDR: POD_CIDR,
      // Leave the shared kernel's conntrack limits alone.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
      healthzBindAddress: "",
      metricsBindAddress: "",
    }),
  );
}

function ctr(n: NodeNames, args: readonly string[], input?: Buffer): string {
  const result = spawnSync(
    "ctr",
    ["--address", join(n.dir, "containerd/containerd.sock"), "-n", "k8s.io", ...args],
    {
      input,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (result.status !== 0) throw new Error(`ctr ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

/** Imports an OCI image layout directory under `ref` (tarred on the fly: `ctr import` reads an archive). */
function importLayout(n: NodeNames, image: ImageLayout): void {
  const index = JSON.parse(readFileSync(join(image.dir, "index.json"), "utf8")) as {
    manifests: { annotations?: Record<string, string> }[];
  };
  // containerd names an imported image after this annotation.
  const named = {
    ...index,
    manifests: index.manifests.map((m) => ({
      ...m,
      annotations: { ...m.annotations, "io.containerd.image.name": image.ref },
    })),
  };
  const staging = join(n.dir, "import");
  rmSyncQuiet(staging);
  mkdirSync(staging, { recursive: true });
  writeFileSync(join(staging, "index.json"), JSON.stringify(named));
  const archive = execFileSync(
    "tar",
    ["-c", "-f", "-", "-C", image.dir, "oci-layout", "blobs", "-C", staging, "index.json"],
    { maxBuffer: 2 * 1024 * 1024 * 1024 },
  );
  ctr(n, ["images", "import", "--no-unpack=false", "-"], archive);
  rmSyncQuiet(staging);
}

function rmSyncQuiet(path: string): void {
  spawnSync("rm", ["-rf", path]);
}

async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  logs: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await Promise.resolve(check()).catch(() => false))) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (logs in ${logs})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startRealNode(options: RealNodeOptions): Promise<RealNode> {
  const log = options.log ?? (() => {});
  const started = Date.now();
  const n = names(options.runDir);
  await stopRealNode(options.runDir);
  mkdirSync(join(n.dir, "logs"), { recursive: true });
  const kc = new KubeConfig();
  kc.loadFromFile(options.kubeconfigPath);
  const cluster = kc.getCurrentCluster();
  if (!cluster?.caData) throw new Error(`${options.kubeconfigPath} has no certificate-authority-data`);
  const caPem = Buffer.from(cluster.caData, "base64").toString("utf8");
  const apiUrl = new URL(cluster.server);
  const images = options.images ?? localImages();
  const sandbox = images.find((image) => /\/pause:/.test(image.ref));
  if (!sandbox) throw new Error("the real node needs a pause image (a ref named .../pause:TAG)");
  const dns = images.find((image) => /\/coredns:/.test(image.ref));
  if (!dns) throw new Error("the real node needs a CoreDNS image (a ref named .../coredns:TAG)");

  const ips = freeSubnet();
  const tokens = await daemonTokens(kc);
  const apiSocket = join(n.dir, "api.sock");
  writeConfigs(n, ips, options.binaries, sandbox.ref, apiSocket, caPem, tokens);

  const processes: StartedProcess[] = [];
  try {
    // The host end of the API relay: the node's socat connects through this socket to the loopback API server.
    processes.push(
      startProcess(options.runDir, "node-api-relay", "socat", [
        `UNIX-LISTEN:${apiSocket},fork,mode=600`,
        `TCP:${apiUrl.hostname}:${apiUrl.port}`,
      ]),
    );
    sh("ip", ["netns", "add", n.netns]);
    sh("ip", ["link", "add", n.hostVeth, "type", "veth", "peer", "name", n.nodeVeth]);
    sh("ip", ["link", "set", n.nodeVeth, "netns", n.netns]);
    sh("ip", ["addr", "add", `${ips.hostIp}/30`, "dev", n.hostVeth]);
    sh("ip", ["link", "set", n.hostVeth, "up"]);
    createCgroupRoot(n.cgroup);
    processes.push(
      startProcess(options.runDir, "real-node", "nsenter", [
        `--net=/run/netns/${n.netns}`,
        "unshare",
        "--pid",
        "--fork",
        "--mount-proc",
        "--mount",
        "--propagation",
        "private",
        "bash",
        "-c",
        // A private /run: containerd's shim sockets, runc state and network namespace mounts stay in the node.
        `mount -t tmpfs -o mode=755 tmpfs /run && exec bash ${join(here, "node-init.sh")} ${n.dir}`,
      ]),
    );
    const node = processes.at(-1)!;
    const logs = join(n.dir, "logs");
    const alive = () => {
      if (node.exitStatus() !== null)
        throw new Error(`the real node exited (${node.exitStatus()}); see ${node.logPath} and ${logs}`);
      return true;
    };
    await waitFor("containerd", () => alive() && existsSync(join(n.dir, "containerd.ready")), 30_000, logs);
    for (const image of images) importLayout(n, image);
    writeFileSync(join(n.dir, "images.ready"), "");
    await nodeServices(kc, ips.nodeIp);
    await clusterDns(kc, dns.ref);
    const core = kc.makeApiClient(CoreV1Api);
    await waitFor(
      "the real node Ready",
      async () => {
        alive();
        const object = await core.readNode({ name: REAL_NODE_NAME });
        writeFileSync(join(n.dir, "node.registered"), "");
        return object.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
      },
      90_000,
      logs,
    );
    await waitFor("cluster DNS (the CoreDNS pod) ready", () => alive() && clusterDnsReady(kc), 90_000, logs);
    const startMs = Date.now() - started;
    log(
      `cluster: real node ${REAL_NODE_NAME} Ready at ${ips.nodeIp} after ${startMs} ms (pods land there with ` +
        `nodeSelector ${REAL_NODE_LABEL.key}=${REAL_NODE_LABEL.value} and a toleration of ${REAL_NODE_TAINT.key}; ` +
        `images: ${images.map((image) => image.ref).join(", ")}, imagePullPolicy Never)`,
    );
    return {
      name: REAL_NODE_NAME,
      ip: ips.nodeIp,
      startMs,
      importImage: (image) => importLayout(n, image),
      stop: async () => {
        const left = await stopRealNode(options.runDir, processes);
        if (left.length > 0) throw new Error(`the real node's teardown left behind: ${left.join("; ")}`);
      },
    };
  } catch (error) {
    await stopRealNode(options.runDir, processes, true).catch(() => {});
    throw error;
  }
}

/**
 * Starts the real node on a started control plane and returns a teardown that stops the node, then the control
 * plane. If the node fails to start, the control plane is stopped too and the error thrown.
 */
export async function startRealNodeOn(
  cluster: { readonly runDir: string; readonly kubeconfigPath: string; stop(): Promise<void> },
  binaries: ClusterBinaries,
  log?: (line: string) => void,
): Promise<() => Promise<void>> {
  let node: RealNode;
  try {
    node = await startRealNode({
      binaries,
      runDir: cluster.runDir,
      kubeconfigPath: cluster.kubeconfigPath,
      ...(log ? { log } : {}),
    });
  } catch (error) {
    await cluster.stop().catch(() => {});
    throw error;
  }
  return async () => {
    try {
      await node.stop();
    } finally {
      await cluster.stop();
    }
  };
}

function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

function recordedNodeProcesses(runDir: string): number[] {
  const file = join(runDir, "pids");
  if (!existsSync(file)) return [];
  return (
    readFileSync(file, "utf8")
      .split("\n")
      .map((line) => line.split(" "))
      .filter(([, name]) => name === "real-node" || name === "node-api-relay")
      .map(([pid]) => Number(pid))
      .filter((pid) => Number.isInteger(pid) && pid > 1)
      // Only leaders whose command line still names the run directory are ours (pids get reused).
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(runDir);
        } catch {
          return false;
        }
      })
  );
}

/**
 * Ends the node and removes what it made on the host: its process groups (the namespace's init takes every
 * process of the node with it), the network namespace (and with it both veth ends), its cgroups, its directory.
 * Safe when nothing runs. Returns what could not be removed.
 */
export async function stopRealNode(
  runDir: string,
  known: readonly StartedProcess[] = [],
  keepLogs = false,
): Promise<string[]> {
  const n = names(runDir);
  const pids = [...new Set([...known.map((p) => p.pid), ...recordedNodeProcesses(runDir)])];
  for (const pid of pids) signalGroup(pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (pids.some((pid) => signalGroup(pid, 0)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const pid of pids) signalGroup(pid, "SIGKILL");
  const left: string[] = [];
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (const pid of pids) if (signalGroup(pid, 0)) left.push(`process group ${pid}`);
  if (existsSync(`/run/netns/${n.netns}`)) spawnSync("ip", ["netns", "delete", n.netns]);
  spawnSync("ip", ["link", "delete", n.hostVeth], { stdio: "ignore" });
  if (existsSync(`/run/netns/${n.netns}`)) left.push(`network namespace ${n.netns}`);
  if (existsSync(`/sys/class/net/${n.hostVeth}`)) left.push(`veth ${n.hostVeth}`);
  left.push(...(await removeCgroups(n.cgroup)));
  // Container root filesystems were overlay mounts in the node's own mount namespace, gone with it.
  if (left.length === 0 && !keepLogs) await rm(n.dir, { recursive: true, force: true });
  return left;
}
