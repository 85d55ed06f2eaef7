/**
 * The rendered security context, enforced for real: a container with the server's rendered pod and container
 * security context, run by the real kubelet with runc, really has a read-only root file system, runs as uid 10001
 * with no capabilities and no_new_privs, and can write only its `/tmp` volume; and in a namespace with the rendered
 * Pod Security labels, pods that break the context (root, privileged, added capabilities, privilege escalation)
 * are refused by admission with Pod Security's own message.
 */
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

beforeAll(async () => {
  // The rendered tenant Namespace's Pod Security labels, on a namespace of this file's own.
  await core.createNamespace({
    body: { metadata: { name: namespace, labels: renderedNamespace.metadata!.labels } },
  });
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
    it(`refuses a pod that ${what}`, async () => {
      const pod = renderedContextPod(uniqueName("breach"));
      breach(pod);
      const creating = core.createNamespacedPod({ namespace, body: pod });
      await expect(creating).rejects.toMatchObject({ code: 403 });
      await expect(creating).rejects.toThrow(/violates PodSecurity "restricted:latest"/);
      await expect(creating).rejects.toThrow(message);
    });
  }
});
