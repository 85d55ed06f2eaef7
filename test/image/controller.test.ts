/**
 * `neurallog controller` from the image, run as the rendered platform Deployment runs it (podman.ts), against a
 * real control plane of its own (test/cluster, one KWOK node, no Argo CD CRDs): it gets healthy and takes the
 * leader Lease under its POD_NAME in its POD_NAMESPACE.
 */
import { copyFileSync, chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CoordinationV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { parse } from "yaml";
import { afterAll, beforeAll, inject, it } from "vitest";
import { LEASE_NAME } from "../../controller/main.ts";
import { ensureClusterBinaries } from "../cluster/binaries.ts";
import { startControlPlane, type ControlPlane } from "../cluster/control-plane.ts";
import { freePort } from "../support/redis-server.ts";
import { podmanRunArgs, renderedPod, ROOT, startContainer, waitFor } from "./podman.ts";

const image = inject("neurallogImage");
const platform = parse(readFileSync(path.join(ROOT, "tenants/_platform.yaml"), "utf8")) as {
  spec: { controller: { namespace: string } };
};
const namespace = platform.spec.controller.namespace;
const runDir = mkdtempSync(path.join(tmpdir(), "nl-image-controller-"));
let cluster: ControlPlane;
let controller: ReturnType<typeof startContainer> | undefined;

beforeAll(async () => {
  cluster = await startControlPlane({
    binaries: ensureClusterBinaries(),
    runDir: path.join(runDir, "cluster"),
    nodes: 1,
    argoCdCrds: false,
    ownerPid: process.pid,
  });
});
afterAll(async () => {
  controller?.stop();
  await cluster?.stop();
  rmSync(runDir, { recursive: true, force: true });
});

it("starts against the API server, gets healthy and holds the leader Lease", async () => {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  // The container's user reads it; the kubeconfig stands in for the in-cluster service account.
  const kubeconfig = path.join(runDir, "kubeconfig");
  copyFileSync(cluster.kubeconfigPath, kubeconfig);
  chmodSync(kubeconfig, 0o644);

  const pod = renderedPod("Deployment", "neurallog-controller");
  const container = pod.containers.find((c) => c.command[1] === "controller")!;
  const port = await freePort();
  const podName = `neurallog-controller-image-test-${process.pid}`;
  controller = startContainer(
    podmanRunArgs(image, pod, container, {
      name: `nl-image-controller-${process.pid}`,
      mounts: [`${kubeconfig}:/var/run/neurallog/kubeconfig:ro`],
      // fieldRef values the kubelet would set, and the loopback address (the test runs on the host's network).
      env: {
        POD_NAME: podName,
        POD_NAMESPACE: namespace,
        NEURALLOG_METRICS_PORT: String(port),
        HOST: "127.0.0.1",
      },
      args: [...container.command.slice(1), "--kubeconfig", "/var/run/neurallog/kubeconfig"],
    }),
  );
  await waitFor(
    "/healthz answers 200",
    async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok,
    controller,
  );
  const leases = kc.makeApiClient(CoordinationV1Api);
  await waitFor(
    "the controller holds the Lease",
    async () =>
      (await leases.readNamespacedLease({ name: LEASE_NAME, namespace })).spec?.holderIdentity === podName,
    controller,
  );
});
