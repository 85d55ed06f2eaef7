/** The platform file: pinned images, the default plan, platform namespaces, every plan's sizes. */
import { describe, expect, test } from "vitest";
import { loadFixture, TEST_PLATFORM, tenantYaml } from "./fixture-tree.ts";

function platformLines(platform: string, files: Record<string, string> = {}): Promise<string[]> {
  return loadFixture(files, platform).then((f) => f.lines);
}

describe("images", () => {
  test("must be pinned: no bare name, no latest; a registry port is not a tag", async () => {
    const platform = TEST_PLATFORM.replace(
      "    server: ghcr.io/neurallog/server:0.1.0\n    redis: docker.io/library/redis:7.4.2-alpine",
      "    server: registry.local:5000/neurallog/server\n    redis: redis:latest",
    );
    expect(await platformLines(platform)).toEqual([
      '_platform.yaml:7:13: spec.images.server: "registry.local:5000/neurallog/server" is not pinned: add a tag (e.g. :1.2.3) or a digest (@sha256:...)',
      '_platform.yaml:8:12: spec.images.redis: "redis:latest" uses the moving tag "latest": pin a version tag or a digest',
    ]);
  });

  test("a digest pins even a latest tag; a malformed digest does not", async () => {
    const digest = "a".repeat(64);
    const platform = TEST_PLATFORM.replace(
      "    server: ghcr.io/neurallog/server:0.1.0\n    redis: docker.io/library/redis:7.4.2-alpine",
      `    server: ghcr.io/neurallog/server:latest@sha256:${digest}\n    redis: redis@sha256:abc`,
    );
    expect(await platformLines(platform)).toEqual([
      '_platform.yaml:8:12: spec.images.redis: "redis@sha256:abc" has a malformed digest; expected @sha256: and 64 hex digits',
    ]);
  });
});

describe("plans", () => {
  test("the default plan must exist", async () => {
    const platform = TEST_PLATFORM.replace("defaultPlan: standard", "defaultPlan: standrad");
    expect(await platformLines(platform)).toEqual([
      '_platform.yaml:18:16: spec.defaultPlan: unknown plan "standrad" (did you mean "standard"?); plans: small, standard',
    ]);
  });

  test("plan names are DNS-1123 labels", async () => {
    const platform = TEST_PLATFORM.replace("    small: {}", "    Small_Plan: {}");
    expect(await platformLines(platform)).toEqual([
      `_platform.yaml:20:5: spec.plans.Small_Plan: "Small_Plan" is not a valid name here: must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit`,
    ]);
  });

  test("a plan's own sizes are checked once, in the platform file, not in every tenant", async () => {
    const platform = TEST_PLATFORM.replace(
      "    small: {}",
      '    small:\n      quota:\n        hard: { pods: "3" }',
    );
    const { lines, result } = await loadFixture(
      {
        "acme.yaml": tenantYaml("acme", "plan: small\n"),
        "globex.yaml": tenantYaml("globex", "plan: small\n"),
      },
      platform,
    );
    expect(lines).toEqual([
      "_platform.yaml:22:23: spec.plans.small.quota.hard.pods: 3 is less than the workloads need at maximum scale: server 3 + redis 1 + backup 1 = 5 (server: replicas 2 + 1 rolling-update surge pod)",
    ]);
    // The tenants themselves are fine, but nothing is published while the platform has errors.
    expect(result.tenants.map((t) => t.resolved !== undefined)).toEqual([true, true]);
  });

  test("a plan finding from built-in values points at the plan", async () => {
    const platform = TEST_PLATFORM.replace(
      "    small: {}",
      "    small:\n      limitRange:\n        max: { memory: 256Mi }",
    );
    expect(await platformLines(platform)).toEqual([
      "_platform.yaml:22:24: spec.plans.small.limitRange.default.memory: 512Mi (built-in default) is more than limitRange.max.memory 256Mi (min ≤ defaultRequest ≤ default ≤ max)",
      "_platform.yaml:22:24: spec.plans.small.limitRange.max.memory: 256Mi is below the redis container's memory limit 512Mi; its pods would be rejected",
      "_platform.yaml:22:24: spec.plans.small.limitRange.max.memory: 256Mi is below the server container's memory limit 512Mi; its pods would be rejected",
    ]);
  });

  test("plan values get the same literal checks as tenant values", async () => {
    const platform = TEST_PLATFORM.replace(
      "    small: {}",
      "    small:\n      backup: { schedule: '0 25 * * *', timeZone: Mars/Olympus }\n      network:\n        webhookEgress: [{ cidr: 10.1.2.3/8 }]",
    );
    const lines = await platformLines(platform);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^_platform\.yaml:21:27: spec\.plans\.small\.backup\.schedule: "0 25 \* \* \*" is not a valid cron expression/,
    );
    expect(lines[1]).toBe(
      '_platform.yaml:21:51: spec.plans.small.backup.timeZone: "Mars/Olympus" is not an IANA time zone, e.g. Europe/Berlin or Etc/UTC',
    );
    expect(lines[2]).toBe(
      '_platform.yaml:23:33: spec.plans.small.network.webhookEgress[0].cidr: "10.1.2.3/8" has host bits set after the /8 prefix (did you mean "10.0.0.0/8"?)',
    );
  });
});

describe("platform names", () => {
  test("namespaces, domain and class names follow Kubernetes' rules", async () => {
    const platform = TEST_PLATFORM.replace("baseDomain: logs.test.example", "baseDomain: Logs.Example")
      .replace("controllerNamespace: ingress-nginx", "controllerNamespace: Ingress_Nginx")
      .replace("storageClassName: standard", "storageClassName: Fast SSD");
    expect(await platformLines(platform)).toEqual([
      '_platform.yaml:9:15: spec.baseDomain: "Logs.Example" is not a lowercase DNS domain such as logs.example.com',
      '_platform.yaml:12:26: spec.ingress.controllerNamespace: "Ingress_Nginx" is not a valid namespace name (a DNS-1123 label)',
      '_platform.yaml:13:21: spec.storageClassName: "Fast SSD" is not a valid storage class name',
    ]);
  });

  test("the ingress proxy CIDRs must parse", async () => {
    const platform = TEST_PLATFORM.replace(
      "    controllerNamespace: ingress-nginx\n",
      "    controllerNamespace: ingress-nginx\n    proxyCIDRs: [10.244.0.0/16, ingress-nginx, 10.0.0.1]\n",
    );
    const lines = await platformLines(platform);
    expect(lines).toEqual([
      '_platform.yaml:13:33: spec.ingress.proxyCIDRs[1]: "ingress-nginx" is not a CIDR',
      '_platform.yaml:13:48: spec.ingress.proxyCIDRs[2]: "10.0.0.1" is not a CIDR: add the prefix length, e.g. 10.0.0.1/32',
    ]);
  });

  test("controller namespace, controller pod labels, an empty repo URL", async () => {
    const platform = TEST_PLATFORM.replace(
      "    controllerNamespace: ingress-nginx\n",
      "    controllerNamespace: ingress-nginx\n    controllerPodLabels: { app: 'not valid!' }\n",
    )
      .replace("url: https://git.example.com/deploy.git", 'url: " "')
      .replace(
        "  defaultPlan: standard",
        "  controller: { namespace: kube-system }\n  defaultPlan: standard",
      );
    expect(await platformLines(platform)).toEqual([
      "_platform.yaml:13:33: spec.ingress.controllerPodLabels.app: a label value must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
      "_platform.yaml:18:10: spec.deploymentRepo.url: must not be empty",
      '_platform.yaml:19:28: spec.controller.namespace: namespace "kube-system" is reserved for Kubernetes itself',
    ]);
  });

  test("no credentials in the deployment repo URL", async () => {
    const platform = TEST_PLATFORM.replace(
      "url: https://git.example.com/deploy.git",
      "url: https://bot:ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@git.example.com/deploy.git",
    );
    const lines = await platformLines(platform);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^_platform\.yaml:17:10: spec\.deploymentRepo\.url: looks like a GitHub token: secrets never go into tenant files/,
    );
    expect(lines[0]).not.toContain("ghp_");
  });
});

describe("the platform file itself", () => {
  test("missing: one error, tenants still schema-checked but not resolved", async () => {
    const { lines, result } = await loadFixture(
      { "acme.yaml": tenantYaml("acme"), "globex.yaml": tenantYaml("globex", "server: { replcas: 2 }\n") },
      null,
    );
    expect(lines).toEqual([
      "_platform.yaml:1:1: platform file missing: every tenant directory needs a _platform.yaml",
      'globex.yaml:7:13: spec.server.replcas: unknown field "replcas" (did you mean "replicas"?)',
    ]);
    expect(result.platform).toBeUndefined();
    expect(result.tenants.map((t) => t.resolved)).toEqual([undefined]);
  });

  test("with schema errors: reported, and tenants are not resolved against it", async () => {
    const platform = TEST_PLATFORM.replace("kind: Platform", "kind: Tenant").replace(
      "  storageClassName: standard\n",
      "",
    );
    const { lines, result } = await loadFixture({ "acme.yaml": tenantYaml("acme") }, platform);
    expect(lines).toEqual([
      '_platform.yaml:2:7: kind: must be "Platform" (got "Tenant")',
      '_platform.yaml:5:1: spec: missing required field "storageClassName"',
    ]);
    expect(result.platform).toBeUndefined();
    expect(result.tenants[0]?.resolved).toBeUndefined();
  });
});
