/**
 * The real kubelet node runs real pods: a sandbox from the imported pause image, a container of our own image
 * under the restricted Pod Security profile, cluster DNS for Services by name and the `kubernetes` Service through
 * kube-proxy; and only pods that select and tolerate it land there.
 */
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { clusterKubeConfig, uniqueName } from "../cluster-access.ts";
import { LOCAL_IMAGES } from "./node-images.ts";
import { REAL_NODE_LABEL, REAL_NODE_NAME, REAL_NODE_TAINT } from "./real-node.ts";

const kc = clusterKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const namespace = uniqueName("real-node");

const restricted = {
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

function podOnRealNode(name: string, image: string, command?: string[]): V1Pod {
  return {
    metadata: { name },
    spec: {
      restartPolicy: "Never",
      nodeSelector: { [REAL_NODE_LABEL.key]: REAL_NODE_LABEL.value },
      tolerations: [{ key: REAL_NODE_TAINT.key, operator: "Exists", effect: REAL_NODE_TAINT.effect }],
      containers: [
        {
          name: "main",
          image,
          imagePullPolicy: "Never",
          securityContext: restricted,
          ...(command ? { command } : {}),
        },
      ],
    },
  };
}

async function podPhase(name: string): Promise<V1Pod> {
  return core.readNamespacedPod({ name, namespace });
}

beforeAll(async () => {
  await core.createNamespace({
    body: { metadata: { name: namespace, labels: { "pod-security.kubernetes.io/enforce": "restricted" } } },
  });
  // Pods cannot be admitted before the namespace's default ServiceAccount exists.
  await vi.waitFor(() => core.readNamespacedServiceAccount({ name: "default", namespace }), {
    timeout: 30_000,
    interval: 200,
  });
});

afterAll(async () => {
  await core.deleteNamespace({ name: namespace });
});

describe("the real node", () => {
  it("runs a pod of the imported pause image, and keeps pods that do not tolerate it away", async () => {
    await core.createNamespacedPod({ namespace, body: podOnRealNode("sandbox", LOCAL_IMAGES.pause.ref) });
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: "elsewhere" },
        spec: { containers: [{ name: "main", image: LOCAL_IMAGES.pause.ref, securityContext: restricted }] },
      },
    });
    const running = await vi.waitFor(
      async () => {
        const pod = await podPhase("sandbox");
        if (pod.status?.containerStatuses?.[0]?.state?.running === undefined) {
          throw new Error(`sandbox not running: ${JSON.stringify(pod.status)}`);
        }
        return pod;
      },
      { timeout: 60_000, interval: 250 },
    );
    expect(running.spec?.nodeName).toBe(REAL_NODE_NAME);
    expect(running.status?.podIP).toMatch(/^10\.250\.0\./);
    const elsewhere = await vi.waitFor(
      async () => {
        const pod = await podPhase("elsewhere");
        if (!pod.spec?.nodeName) throw new Error("not scheduled yet");
        return pod;
      },
      { timeout: 30_000, interval: 250 },
    );
    expect(elsewhere.spec?.nodeName).not.toBe(REAL_NODE_NAME);
  });

  it("resolves Services by name and reaches the API server through the kubernetes Service", async () => {
    // Node's own resolver and sockets, in our image, as uid 10001 with a read-only root.
    const script = `
      const dns = require("node:dns/promises"), tls = require("node:tls");
      (async () => {
        const { address } = await dns.lookup("kubernetes.default.svc.cluster.local");
        if (address !== "10.96.0.1") throw new Error("kubernetes resolved to " + address);
        await new Promise((ok, fail) => {
          const socket = tls.connect({ host: address, port: 443, rejectUnauthorized: false }, () => { socket.end(); ok(); });
          socket.once("error", fail);
        });
        console.log("reached " + address);
      })().catch((e) => { console.error(e); process.exit(1); });`;
    await core.createNamespacedPod({
      namespace,
      body: podOnRealNode("dns", LOCAL_IMAGES.neurallog.ref, ["node", "-e", script]),
    });
    const done = await vi.waitFor(
      async () => {
        const pod = await podPhase("dns");
        const phase = pod.status?.phase;
        if (phase !== "Succeeded" && phase !== "Failed") throw new Error(`dns pod ${phase}`);
        return pod;
      },
      { timeout: 90_000, interval: 500 },
    );
    const logs = await core.readNamespacedPodLog({ name: "dns", namespace });
    expect({ phase: done.status?.phase, logs: logs.trim() }).toEqual({
      phase: "Succeeded",
      logs: "reached 10.96.0.1",
    });
  });
});
