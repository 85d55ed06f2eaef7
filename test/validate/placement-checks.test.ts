/**
 * Placement of the server, Redis, backup and controller pods (nodeSelector, tolerations, node affinity): every mistake the
 * API server or the scheduler would trip over later is reported now, at its line and column.
 */
import { describe, expect, test } from "vitest";
import { platformObjects } from "../../charts-src/charts/platform-chart.ts";
import { loadFixture, TEST_PLATFORM, tenantLines, tenantYaml } from "./fixture-tree.ts";

describe("placement that is valid", () => {
  test("a selector, a toleration and node affinity on every workload pass", async () => {
    const placement = [
      "  nodeSelector: { pool.example.com/tier: logs }",
      "  tolerations:",
      "    - { key: dedicated, operator: Equal, value: logs, effect: NoSchedule }",
      "    - { key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 30 }",
      "    - { operator: Exists }",
      "  affinity:",
      "    nodeAffinity:",
      "      requiredDuringSchedulingIgnoredDuringExecution:",
      "        nodeSelectorTerms:",
      "          - matchExpressions:",
      "              - { key: topology.kubernetes.io/zone, operator: In, values: [a, b] }",
      "              - { key: example.com/cores, operator: Gt, values: ['4'] }",
      "          - matchFields: [{ key: metadata.name, operator: In, values: [node-7] }]",
      "      preferredDuringSchedulingIgnoredDuringExecution:",
      "        - weight: 50",
      "          preference: { matchExpressions: [{ key: example.com/ssd, operator: Exists }] }",
    ].join("\n");
    const body = ["server", "redis", "backup"].map((part) => `${part}:\n${placement}\n`).join("");
    expect(await tenantLines(body)).toEqual([]);
  });
});

describe("schema mistakes", () => {
  test("a taint effect that does not exist, with a suggestion", async () => {
    expect(await tenantLines("redis:\n  tolerations: [{ key: dedicated, effect: NoSchedul }]\n")).toEqual([
      'acme.yaml:8:45: spec.redis.tolerations[0].effect: must be one of "NoSchedule", "PreferNoSchedule", "NoExecute" (got "NoSchedul") (did you mean "NoSchedule"?)',
    ]);
  });

  test("a toleration operator that does not exist", async () => {
    expect(await tenantLines("server:\n  tolerations: [{ key: dedicated, operator: Equals }]\n")).toEqual([
      'acme.yaml:8:47: spec.server.tolerations[0].operator: must be one of "Exists", "Equal" (got "Equals") (did you mean "Equal"?)',
    ]);
  });

  test("a node selector operator that does not exist", async () => {
    const body = [
      "backup:",
      "  affinity:",
      "    nodeAffinity:",
      "      requiredDuringSchedulingIgnoredDuringExecution:",
      "        nodeSelectorTerms:",
      "          - matchExpressions: [{ key: zone, operator: Inn, values: [a] }]",
    ].join("\n");
    expect(await tenantLines(body)).toEqual([
      'acme.yaml:12:57: spec.backup.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: must be one of "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt" (got "Inn") (did you mean "In"?)',
    ]);
  });

  test("pod affinity is not a tenant's to set: unknown field", async () => {
    expect(await tenantLines("server:\n  affinity:\n    podAntiAffinity: {}\n")).toEqual([
      'acme.yaml:9:7: spec.server.affinity.podAntiAffinity: unknown field "podAntiAffinity" (did you mean "nodeAffinity"?)',
    ]);
  });

  test("a preference weight out of range", async () => {
    const body = [
      "redis:",
      "  affinity:",
      "    nodeAffinity:",
      "      preferredDuringSchedulingIgnoredDuringExecution:",
      "        - { weight: 0, preference: { matchExpressions: [{ key: ssd, operator: Exists }] } }",
    ].join("\n");
    expect(await tenantLines(body)).toEqual([
      "acme.yaml:11:23: spec.redis.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: must be an integer ≥ 1 and ≤ 100 (got 0)",
    ]);
  });
});

describe("semantic mistakes", () => {
  test("node selector keys and values as Kubernetes checks labels", async () => {
    expect(await tenantLines("server:\n  nodeSelector: { Pool/x: a, tier: 'has space' }\n")).toEqual([
      'acme.yaml:8:21: spec.server.nodeSelector["Pool/x"]: key prefix "Pool" must be a DNS subdomain (lowercase, e.g. example.com)',
      "acme.yaml:8:38: spec.server.nodeSelector.tier: a label value must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
    ]);
  });

  test("tolerations: keyless needs Exists, Exists takes no value, tolerationSeconds needs NoExecute", async () => {
    const body = [
      "backup:",
      "  tolerations:",
      "    - { operator: Equal, value: x }",
      "    - { key: dedicated, operator: Exists, value: logs }",
      "    - { key: dedicated, effect: NoSchedule, tolerationSeconds: 60 }",
    ].join("\n");
    expect(await tenantLines(body)).toEqual([
      'acme.yaml:9:9: spec.backup.tolerations[0]: a toleration without a key must have operator "Exists" (it then tolerates every taint)',
      'acme.yaml:10:52: spec.backup.tolerations[1].value: operator "Exists" tolerates any value; leave value out or use operator "Equal"',
      'acme.yaml:11:66: spec.backup.tolerations[2].tolerationSeconds: tolerationSeconds only applies to effect "NoExecute" (got "NoSchedule")',
    ]);
  });

  test("node selector requirements: values per operator, matchFields on the node name only, no empty term", async () => {
    const body = [
      "server:",
      "  affinity:",
      "    nodeAffinity:",
      "      requiredDuringSchedulingIgnoredDuringExecution:",
      "        nodeSelectorTerms:",
      "          - matchExpressions:",
      "              - { key: zone, operator: In }",
      "              - { key: ssd, operator: Exists, values: [yes] }",
      "              - { key: cores, operator: Gt, values: [four] }",
      "          - matchFields: [{ key: metadata.labels, operator: Exists }]",
      "          - {}",
    ].join("\n");
    expect(await tenantLines(body)).toEqual([
      'acme.yaml:13:19: spec.server.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]: operator "In" needs at least one value',
      'acme.yaml:14:57: spec.server.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values: operator "Exists" takes no values',
      'acme.yaml:15:55: spec.server.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[2].values: operator "Gt" needs exactly one integer value',
      'acme.yaml:16:36: spec.server.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[1].matchFields[0].key: matchFields can only select "metadata.name" (got "metadata.labels")',
      'acme.yaml:16:63: spec.server.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[1].matchFields[0].operator: matchFields takes operator "In" or "NotIn" (got "Exists")',
      "acme.yaml:17:15: spec.server.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[2]: an empty node selector term matches no node; give it matchExpressions or matchFields",
    ]);
  });

  test("a plan's placement is checked in the platform file", async () => {
    const platform = TEST_PLATFORM.replace(
      "    small: {}\n",
      "    small:\n      redis:\n        tolerations: [{ effect: NoExecute, tolerationSeconds: 5 }]\n",
    );
    const { lines } = await loadFixture({ "acme.yaml": tenantYaml("acme", "plan: small\n") }, platform);
    expect(lines).toEqual([
      '_platform.yaml:22:23: spec.plans.small.redis.tolerations[0]: a toleration without a key must have operator "Exists" (it then tolerates every taint)',
    ]);
  });
});

describe("plan defaults and tenant overrides", () => {
  test("node selectors merge key by key, tolerations and node selector terms replace", async () => {
    const platform = TEST_PLATFORM.replace(
      "    small: {}\n",
      [
        "    small:",
        "      redis:",
        "        nodeSelector: { pool.example.com/name: storage }",
        "        tolerations: [{ key: dedicated, operator: Equal, value: storage, effect: NoSchedule }]",
        "",
      ].join("\n"),
    );
    const tenant = tenantYaml(
      "acme",
      [
        "plan: small",
        "redis:",
        "  nodeSelector: { topology.kubernetes.io/zone: a }",
        "  tolerations: [{ key: dedicated, operator: Exists }]",
      ].join("\n"),
    );
    const { result, lines } = await loadFixture({ "acme.yaml": tenant }, platform);
    expect(lines).toEqual([]);
    const resolved = result.tenants[0]?.resolved;
    expect(resolved?.redis.placement).toEqual({
      nodeSelector: { "pool.example.com/name": "storage", "topology.kubernetes.io/zone": "a" },
      tolerations: [{ key: "dedicated", operator: "Exists" }],
      affinity: {},
    });
    expect(resolved?.server.placement).toEqual({ nodeSelector: {}, tolerations: [], affinity: {} });
  });
});

describe("the platform's pull policy", () => {
  test("only Kubernetes' three policies", async () => {
    const platform = TEST_PLATFORM.replace("  baseDomain:", "    pullPolicy: Sometimes\n  baseDomain:");
    const { lines } = await loadFixture({ "acme.yaml": tenantYaml("acme") }, platform);
    expect(lines).toEqual([
      '_platform.yaml:9:17: spec.images.pullPolicy: must be one of "IfNotPresent", "Always", "Never" (got "Sometimes")',
    ]);
  });
});

describe("the controller's placement (platform file)", () => {
  const withController = (lines: string[]) =>
    TEST_PLATFORM.replace("  defaultPlan:", ["  controller:", ...lines, "  defaultPlan:"].join("\n"));

  test("is checked like a tenant's, at its line and column", async () => {
    const platform = withController([
      "    nodeSelector: { pool.example.com/tier: system }",
      "    tolerations: [{ value: system, effect: NoSchedule }]",
    ]);
    const { lines } = await loadFixture({ "acme.yaml": tenantYaml("acme") }, platform);
    expect(lines).toEqual([
      '_platform.yaml:20:19: spec.controller.tolerations[0]: a toleration without a key must have operator "Exists" (it then tolerates every taint)',
    ]);
  });

  test("is rendered into the controller's pod spec, and only there", async () => {
    const platform = withController([
      "    nodeSelector: { pool.example.com/tier: system }",
      "    tolerations: [{ key: pool.example.com/system, operator: Exists, effect: NoSchedule }]",
    ]);
    const { result, lines } = await loadFixture({ "acme.yaml": tenantYaml("acme") }, platform);
    expect(lines).toEqual([]);
    const objects = platformObjects(result.platform!.resolved) as {
      kind: string;
      spec?: { template?: { spec: Record<string, unknown> } };
    }[];
    const deployment = objects.find((o) => o.kind === "Deployment")!;
    expect(deployment.spec!.template!.spec).toMatchObject({
      nodeSelector: { "pool.example.com/tier": "system" },
      tolerations: [{ key: "pool.example.com/system", operator: "Exists", effect: "NoSchedule" }],
    });
    expect(result.tenants[0]?.resolved?.server.placement.nodeSelector).toEqual({});
  });
});
