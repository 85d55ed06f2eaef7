/**
 * The rendered NetworkPolicies, enforced by kube-router on the real node, between two rendered tenants A and B
 * whose server and Redis really run there: B cannot open a connection to A's Redis or server, a pod outside the
 * ingress controller's namespace (or in it without the controller's labels) cannot reach A's server, and DNS and
 * every allowed path work. Each path expected closed is checked against one expected open to the same Service
 * (connection-probe.ts), so a dead target cannot pass for a blocked one.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterKubeConfig, uniqueName } from "../cluster-access.ts";
import { expectedReach, probePod, reachedTargets, type ProbeTarget } from "./connection-probe.ts";
import {
  createNamespace,
  localPlatform,
  namespaceOf,
  renderTenantOnNode,
  runPod,
  runTenant,
} from "./rendered-tenant.ts";

const kc = clusterKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const ingressNamespace = uniqueName("ingress");
const outsideNamespace = uniqueName("outside");
const platform = localPlatform((spec) => {
  spec.ingress.controllerNamespace = ingressNamespace;
});
const controllerLabels = platform.spec.ingress.controllerPodLabels ?? {};
const tenantA = uniqueName("np-a");
const tenantB = uniqueName("np-b");
const objectsA = renderTenantOnNode(tenantA, platform, { backup: { enabled: false } });
const objectsB = renderTenantOnNode(tenantB, platform, { backup: { enabled: false } });
const nsA = namespaceOf(objectsA);
const nsB = namespaceOf(objectsB);
const redisA = `${tenantA}-redis.${nsA}.svc.cluster.local`;
const serverA = `${tenantA}-server.${nsA}.svc.cluster.local`;
const redisB = `${tenantB}-redis.${nsB}.svc.cluster.local`;
const serverB = `${tenantB}-server.${nsB}.svc.cluster.local`;

async function probe(namespace: string, targets: ProbeTarget[], labels: Record<string, string> = {}) {
  const name = uniqueName("probe");
  const { phase, log } = await runPod(kc, namespace, probePod(name, targets, labels));
  const outcomes = JSON.parse(log.trim().split("\n").at(-1)!) as Record<string, string>;
  return { phase, outcomes, reached: reachedTargets(outcomes) };
}

beforeAll(async () => {
  await Promise.all([
    createNamespace(kc, ingressNamespace),
    createNamespace(kc, outsideNamespace),
    runTenant(kc, objectsA),
    runTenant(kc, objectsB),
  ]);
}, 300_000);

afterAll(async () => {
  await Promise.all(
    [nsA, nsB, ingressNamespace, outsideNamespace].map((name) =>
      core.deleteNamespace({ name }).catch(() => undefined),
    ),
  );
});

describe("rendered NetworkPolicies on the real node", () => {
  it("keep tenant B from A's Redis and server, while B resolves names and reaches its own", async () => {
    const targets: ProbeTarget[] = [
      { name: "dns of A's server", host: serverA, expect: "open" },
      { name: "B redis", host: redisB, port: 6379, expect: "open" },
      { name: "B server", host: serverB, port: 8080, expect: "open" },
      { name: "A redis", host: redisA, port: 6379, expect: "closed" },
      { name: "A server", host: serverA, port: 8080, expect: "closed" },
    ];
    const result = await probe(nsB, targets);
    expect({ phase: result.phase, reached: result.reached }, JSON.stringify(result.outcomes)).toEqual({
      phase: "Succeeded",
      reached: expectedReach(targets),
    });
  });

  it("let A's own pods reach A's Redis and server (the paths B was refused are open)", async () => {
    const targets: ProbeTarget[] = [
      { name: "A redis", host: redisA, port: 6379, expect: "open" },
      { name: "A server", host: serverA, port: 8080, expect: "open" },
    ];
    const result = await probe(nsA, targets);
    expect(result.reached, JSON.stringify(result.outcomes)).toEqual(expectedReach(targets));
  });

  it("let the ingress controller's pods reach A's server port only", async () => {
    const targets: ProbeTarget[] = [
      { name: "A server", host: serverA, port: 8080, expect: "open" },
      { name: "A redis", host: redisA, port: 6379, expect: "closed" },
    ];
    const result = await probe(ingressNamespace, targets, controllerLabels);
    expect(result.reached, JSON.stringify(result.outcomes)).toEqual(expectedReach(targets));
  });

  it("keep A's server from pods outside the ingress controller's namespace, and from unlabelled pods in it", async () => {
    // Each client proves it has a network: DNS and the API server's Service answer it.
    const targets: ProbeTarget[] = [
      { name: "dns of A's server", host: serverA, expect: "open" },
      { name: "kubernetes API", host: "10.96.0.1", port: 443, expect: "open" },
      { name: "A server", host: serverA, port: 8080, expect: "closed" },
      { name: "A redis", host: redisA, port: 6379, expect: "closed" },
    ];
    const [outside, unlabelled] = await Promise.all([
      probe(outsideNamespace, targets),
      probe(ingressNamespace, targets),
    ]);
    expect(outside.reached, `outside: ${JSON.stringify(outside.outcomes)}`).toEqual(expectedReach(targets));
    expect(unlabelled.reached, `unlabelled: ${JSON.stringify(unlabelled.outcomes)}`).toEqual(
      expectedReach(targets),
    );
  });
});
