/**
 * The rendered security context, enforced for real: a container with the server's rendered pod and container
 * security context, run by the real kubelet with runc, really has a read-only root file system, runs as uid 10001
 * with no capabilities and no_new_privs, and can write only its `/tmp` volume; and in a namespace with the rendered
 * Pod Security labels, pods that break the context (root, privileged, added capabilities, privilege escalation)
 * are refused by admission with Pod Security's own message, and one with a writable root file system by the
 * platform's ValidatingAdmissionPolicy.
 */
import { ApiException, CoreV1Api, type KubernetesObject, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { READ_ONLY_ROOT_POLICY } from "../../../charts-src/constructs/pod-admission-policy.ts";
import { platformObjects } from "../../../charts-src/charts/platform-chart.ts";
import { resolvePlatform } from "../../../charts-src/model/resolve.ts";
import { applyManifests } from "../apply-manifests.ts";
import { clusterKubeConfig, uniqueName } from "../cluster-access.ts";
import {
  localPlatform,
  renderTenantOnNode,
  runPod,
  ON_REAL_NODE,
  type RenderedObject,
} from "./rendered-tenant.ts";

const kc = clusterKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const tenant = uniqueName("psec");
const objects = renderTenantOnNode(tenant, localPlatform());
const renderedNamespace = objects.find((o) => o.kind === "Namespace")!;
const namespace = uniqueName("psec-ns");

interface PodTemplate {
  spec: {
    securityContext: NonNullable<V1Pod["spec"]>["securityContext"];
    containers: NonNullable<V1Pod["spec"]>["containers"];
    volumes: NonNullable<V1Pod["spec"]>["volumes"];
  };
}
const server = (
  objects.find((o) => o.kind === "Deployment") as RenderedObject & { spec: { template: PodTemplate } }
).spec.template;
const serverContainer = server.spec.containers[0]!;

/** What the container finds out about itself, printed as JSON. */
const PROBE = `
const fs = require("node:fs");
const attempt = (path) => { try { fs.writeFileSync(path, "x"); return "written"; } catch (e) { return e.code; } };
const status = fs.readFileSync("/proc/self/status", "utf8");
const field = (name) => new RegExp("^" + name + ":\\\\s*(.*)$", "m").exec(status)[1].trim();
console.log(JSON.stringify({
  uid: process.getuid(), gid: process.getgid(),
  root: attempt("/probe"), app: attempt("/app/probe"), etc: attempt("/etc/probe"), tmp: attempt("/tmp/probe"),
  capEff: field("CapEff"), capPrm: field("CapPrm"), noNewPrivs: field("NoNewPrivs"), seccomp: field("Seccomp"),
}));`;

/** A pod with the server's rendered security context and /tmp volume, running PROBE in our image. */
function renderedContextPod(name: string): V1Pod {
  const tmp = server.spec.volumes!.find((v) => v.name === "tmp")!;
  return {
    metadata: { name },
    spec: {
      ...ON_REAL_NODE,
      restartPolicy: "Never",
      automountServiceAccountToken: false,
      securityContext: server.spec.securityContext,
      volumes: [tmp],
      containers: [
        {
          name: "probe",
          image: serverContainer.image,
          imagePullPolicy: serverContainer.imagePullPolicy,
          command: ["node", "-e", PROBE],
          securityContext: serverContainer.securityContext,
          resources: serverContainer.resources,
          volumeMounts: serverContainer.volumeMounts!.filter((m) => m.name === "tmp"),
        },
      ],
    },
  };
}

/** The API server's refusal of `pod` (code and message); code 0 if it was created (it is then deleted). */
async function refusalOf(pod: V1Pod): Promise<{ code: number; message: string }> {
  try {
    await core.createNamespacedPod({ namespace, body: pod });
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const body = JSON.parse(String(error.body)) as { message?: string };
    return { code: error.code, message: body.message ?? String(error.body) };
  }
  await core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace });
  return { code: 0, message: "" };
}

beforeAll(async () => {
  // The rendered tenant Namespace's labels (Pod Security, neurallog.io/tenant), on a namespace of this file's own;
  // the platform's admission policy, applied as Argo CD's platform Application syncs it.
  await core.createNamespace({
    body: { metadata: { name: namespace, labels: renderedNamespace.metadata!.labels } },
  });
  // The read-only-root pair only: the platform also renders the Tenant resource's policy, not this test's subject.
  const admission = platformObjects(resolvePlatform(localPlatform())).filter(
    (o) =>
      String(o.kind).startsWith("ValidatingAdmissionPolicy") &&
      (o.metadata as { name?: string }).name === READ_ONLY_ROOT_POLICY,
  ) as KubernetesObject[];
  expect(admission.map((o) => o.kind)).toEqual([
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
  ]);
  await applyManifests(kc, admission, { fieldManager: "argocd-controller" });
});

afterAll(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

describe("the rendered security context on the real node", () => {
  it("gives a read-only root, uid 10001, no capabilities, no_new_privs and seccomp; only /tmp is writable", async () => {
    const { phase, log } = await runPod(kc, namespace, renderedContextPod(uniqueName("probe")));
    expect(phase, log).toBe("Succeeded");
    const seen = JSON.parse(log.trim().split("\n").at(-1)!) as Record<string, unknown>;
    expect(seen).toEqual({
      uid: 10001,
      gid: 10001,
      root: "EROFS",
      app: "EROFS",
      etc: "EROFS",
      tmp: "written",
      capEff: "0000000000000000",
      capPrm: "0000000000000000",
      noNewPrivs: "1",
      // 2: filter mode, the runtime's default profile (RuntimeDefault).
      seccomp: "2",
    });
  });

  const breaches: [string, (pod: V1Pod) => void, RegExp][] = [
    [
      "runs as root",
      (pod) => (pod.spec!.securityContext = { ...pod.spec!.securityContext, runAsUser: 0 }),
      /runAsUser=0/,
    ],
    [
      "is privileged",
      (pod) =>
        (pod.spec!.containers[0]!.securityContext = { privileged: true, allowPrivilegeEscalation: true }),
      /privileged/,
    ],
    [
      "adds a capability",
      (pod) =>
        (pod.spec!.containers[0]!.securityContext = {
          ...pod.spec!.containers[0]!.securityContext,
          capabilities: { drop: ["ALL"], add: ["NET_RAW"] },
        }),
      /unrestricted capabilities.*NET_RAW/,
    ],
    [
      "allows privilege escalation",
      (pod) =>
        (pod.spec!.containers[0]!.securityContext = {
          ...pod.spec!.containers[0]!.securityContext,
          allowPrivilegeEscalation: true,
        }),
      /allowPrivilegeEscalation != false/,
    ],
  ];
  for (const [what, breach, message] of breaches) {
    it(`refuses a pod that ${what} (Pod Security restricted)`, async () => {
      const pod = renderedContextPod(uniqueName("breach"));
      breach(pod);
      const refusal = await refusalOf(pod);
      expect(refusal.code).toBe(403);
      expect(refusal.message).toMatch(/violates PodSecurity "restricted:latest"/);
      expect(refusal.message).toMatch(message);
    });
  }

  it("refuses a pod with a writable root file system (the platform's ValidatingAdmissionPolicy; Pod Security does not check it)", async () => {
    const pod = renderedContextPod(uniqueName("writable"));
    pod.spec!.containers[0]!.securityContext = {
      ...pod.spec!.containers[0]!.securityContext,
      readOnlyRootFilesystem: false,
    };
    // A new policy takes effect once the API server has compiled it: wait for the first refusal.
    const refusal = await vi.waitFor(
      async () => {
        const outcome = await refusalOf(structuredClone(pod));
        if (outcome.code === 0) throw new Error("created: the policy is not in effect yet");
        return outcome;
      },
      { timeout: 30_000, interval: 500 },
    );
    expect(refusal.code).toBe(403);
    expect(refusal.message).toMatch(
      /neurallog-read-only-root.*set securityContext\.readOnlyRootFilesystem: true on container\(s\) probe/,
    );
  });
});
