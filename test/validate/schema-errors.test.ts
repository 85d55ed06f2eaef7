/** Schema-level findings: each on its own line, at the YAML node it is about, worded for humans. */
import { describe, expect, test } from "vitest";
import { loadFixture, tenantLines, tenantYaml } from "./fixture-tree.ts";

describe("a tenant file with several mistakes", () => {
  test("gets all of them, each with its line and column, sorted", async () => {
    const text = [
      "apiVersion: neurallog.io/v1alpha1", // 1
      "kind: Tenant", // 2
      "metadata:", // 3
      "  name: acme", // 4
      "spec:", // 5
      "  plan: standrd", // 6
      "  owners:", // 7
      "    - kind: Team", // 8
      "      name: ops", // 9
      "  server:", // 10
      "    replcas: 3", // 11
      "    autoscaling: { enabled: yes }", // 12
      "    ingress:", // 13
      "      allowedSourceCIDRs: [10.0.0.1/8]", // 14
      "  redis:", // 15
      "    resources:", // 16
      "      limits: { memory: 512m }", // 17
      "  backup:", // 18
      '    schedule: "0 2 * *"', // 19
      "",
    ].join("\n");
    const { lines, result } = await loadFixture({ "acme.yaml": text });
    expect(lines).toEqual([
      'acme.yaml:6:9: spec.plan: unknown plan "standrd" (did you mean "standard"?); the platform offers small, standard',
      'acme.yaml:8:13: spec.owners[0].kind: must be one of "User", "Group", "ServiceAccount" (got "Team")',
      'acme.yaml:11:5: spec.server.replcas: unknown field "replcas" (did you mean "replicas"?)',
      'acme.yaml:12:29: spec.server.autoscaling.enabled: must be true or false (got "yes")',
      'acme.yaml:14:28: spec.server.ingress.allowedSourceCIDRs[0]: "10.0.0.1/8" has host bits set after the /8 prefix (did you mean "10.0.0.0/8"?)',
      'acme.yaml:17:25: spec.redis.resources.limits.memory: "512m" means 512 thousandths of a byte (did you mean "512Mi"?)',
      'acme.yaml:19:15: spec.backup.schedule: "0 2 * *" has 4 fields; a schedule has 5: minute hour day-of-month month day-of-week',
    ]);
    // A tenant with errors is never resolved (nothing gets rendered from it).
    expect(result.tenants.every((t) => t.resolved === undefined)).toBe(true);
  });
});

describe("unknown fields", () => {
  test("point at the key and suggest the closest allowed key", async () => {
    expect(await tenantLines("server:\n  replcas: 2\n")).toEqual([
      'acme.yaml:8:5: spec.server.replcas: unknown field "replcas" (did you mean "replicas"?)',
    ]);
  });

  test("a transposition and a case slip are one edit away", async () => {
    const lines = await tenantLines("redis:\n  maxmemroy: 100Mi\n  AppendFsync: always\n");
    expect(lines).toEqual([
      'acme.yaml:8:5: spec.redis.maxmemroy: unknown field "maxmemroy" (did you mean "maxmemory"?)',
      'acme.yaml:9:5: spec.redis.AppendFsync: unknown field "AppendFsync" (did you mean "appendfsync"?)',
    ]);
  });

  test("a known field at the wrong level names where it belongs", async () => {
    expect(await tenantLines("replicas: 3\n")).toEqual([
      'acme.yaml:7:3: spec.replicas: unknown field "replicas" (did you mean spec.server.replicas?)',
    ]);
  });

  test("a field indented under the wrong parent names its place", async () => {
    expect(await tenantLines("server:\n  maxmemory: 1Gi\n")).toEqual([
      'acme.yaml:8:5: spec.server.maxmemory: unknown field "maxmemory" (did you mean spec.redis.maxmemory?)',
    ]);
    expect(
      await tenantLines(
        "network:\n  extraRules:\n    - name: a\n      direction: egress\n      peers: [{ cidr: 10.0.0.0/8 }]\n      protocol: TCP\n",
      ),
    ).toEqual([
      'acme.yaml:12:9: spec.network.extraRules[0].protocol: unknown field "protocol" (did you mean spec.network.extraRules[0].ports[0].protocol?)',
    ]);
  });

  test("without a close match, the allowed keys are listed", async () => {
    expect(await tenantLines("backup:\n  frobnicate: true\n")).toEqual([
      'acme.yaml:8:5: spec.backup.frobnicate: unknown field "frobnicate"; allowed here: enabled, schedule, timeZone, retention, destination, nodeSelector, tolerations, affinity',
    ]);
  });

  test("quota keys are checked too", async () => {
    expect(await tenantLines('quota:\n  hard:\n    request.cpu: "2"\n')).toEqual([
      'acme.yaml:9:7: spec.quota.hard["request.cpu"]: unknown field "request.cpu" (did you mean "requests.cpu"?)',
    ]);
  });
});

describe("wrong values", () => {
  test("an integer field with text says what it expects and what it got", async () => {
    expect(await tenantLines("server:\n  replicas: two\n")).toEqual([
      'acme.yaml:8:15: spec.server.replicas: must be an integer ≥ 1 and ≤ 100 (got "two")',
    ]);
  });

  test("out of range", async () => {
    expect(await tenantLines("server:\n  replicas: 0\n")).toEqual([
      "acme.yaml:8:15: spec.server.replicas: must be an integer ≥ 1 and ≤ 100 (got 0)",
    ]);
  });

  test("a quantity written as a number is asked to be quoted", async () => {
    expect(await tenantLines("redis:\n  resources:\n    limits: { cpu: 2 }\n")).toEqual([
      'acme.yaml:9:22: spec.redis.resources.limits.cpu: must be a quantity written as a string: quote it, e.g. "2"',
    ]);
  });

  test("a number or boolean where a string belongs is asked to be quoted", async () => {
    expect(await tenantLines("labels:\n  cost-center: 1042\n  on-call: true\n")).toEqual([
      'acme.yaml:8:18: spec.labels.cost-center: must be a string: quote it, e.g. "1042" (got number 1042)',
      'acme.yaml:9:14: spec.labels.on-call: must be a string: quote it, e.g. "true" (got boolean true)',
    ]);
  });

  test("a malformed quantity names the format", async () => {
    expect(await tenantLines("redis:\n  storage: { size: 10 GB }\n")).toEqual([
      'acme.yaml:8:22: spec.redis.storage.size: must be a Kubernetes quantity such as 500m, 2, 512Mi or 10Gi (got "10 GB")',
    ]);
  });

  test("an enum value gets a suggestion", async () => {
    expect(await tenantLines("redis:\n  maxmemoryPolicy: allkeys-lr\n")).toEqual([
      'acme.yaml:8:22: spec.redis.maxmemoryPolicy: must be one of "noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl" (got "allkeys-lr") (did you mean "allkeys-lru"?)',
    ]);
  });

  test("a mapping where a list belongs", async () => {
    expect(await tenantLines("network:\n  webhookEgress: { cidr: 10.0.0.0/8 }\n")).toEqual([
      "acme.yaml:8:20: spec.network.webhookEgress: must be a list (got a mapping)",
    ]);
  });

  test("an invalid name names the DNS-1123 rule", async () => {
    const lines = (await loadFixture({ "Acme.yaml": tenantYaml("Acme") })).lines;
    expect(lines).toEqual([
      "Acme.yaml:4:9: metadata.name: must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 45 characters (got \"Acme\")",
    ]);
  });

  test("a wrong kind and apiVersion", async () => {
    const text = tenantYaml("acme").replace("kind: Tenant", "kind: Tenat").replace("v1alpha1", "v1");
    expect((await loadFixture({ "acme.yaml": text })).lines).toEqual([
      'acme.yaml:1:13: apiVersion: must be "neurallog.io/v1alpha1" (got "neurallog.io/v1")',
      'acme.yaml:2:7: kind: must be "Tenant" (got "Tenat")',
    ]);
  });
});

describe("missing fields", () => {
  test("point at the mapping that should hold them, all named in one message", async () => {
    const text =
      "apiVersion: neurallog.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: acme\nspec:\n  plan: small\n  server:\n    ingress:\n      host: a.logs.test.example\n";
    expect((await loadFixture({ "acme.yaml": text })).lines).toEqual([
      'acme.yaml:5:1: spec: missing required field "owners"',
    ]);
  });

  test("at the top of the document", async () => {
    const text = "# a comment first\napiVersion: neurallog.io/v1alpha1\nkind: Tenant\n";
    expect((await loadFixture({ "acme.yaml": text })).lines).toEqual([
      'acme.yaml:2:1: the document: missing required fields "metadata", "spec"',
    ]);
  });

  test("an empty value where a mapping belongs", async () => {
    expect(await tenantLines("server:\n")).toEqual([
      "acme.yaml:7:3: spec.server: must be a mapping of keys to values (got an empty value)",
    ]);
  });
});

describe("malformed YAML", () => {
  test("is reported as FILE:LINE:COL, not as a stack trace", async () => {
    const text = "apiVersion: neurallog.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: [acme\n";
    const { lines, result } = await loadFixture({ "acme.yaml": text });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^acme\.yaml:5:1: YAML: /);
    expect(result.tenants).toEqual([]);
  });

  test("a bad indentation", async () => {
    const text = "apiVersion: neurallog.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: acme\n   bad: indent\n";
    const { lines } = await loadFixture({ "acme.yaml": text });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines[0]).toMatch(/^acme\.yaml:4:\d+: YAML: /);
  });

  test("duplicate keys are errors at the second occurrence", async () => {
    const lines = await tenantLines("server:\n  replicas: 2\n  replicas: 3\n");
    expect(lines).toEqual(["acme.yaml:9:5: YAML: duplicate key: each key may appear once in a mapping"]);
  });

  test("two documents in one file", async () => {
    const text = `${tenantYaml("acme")}---\n${tenantYaml("acme")}`;
    expect((await loadFixture({ "acme.yaml": text })).lines).toEqual([
      "acme.yaml:8:1: YAML: a file holds exactly one document: remove the `---` separator and split it into files",
    ]);
  });

  test("an empty file", async () => {
    expect((await loadFixture({ "acme.yaml": "# nothing yet\n" })).lines).toEqual([
      "acme.yaml:1:1: the file is empty",
    ]);
  });

  test("a file that is not a mapping", async () => {
    expect((await loadFixture({ "acme.yaml": "- a\n- b\n" })).lines).toEqual([
      "acme.yaml:1:1: (document): must be a mapping of keys to values (got a list)",
    ]);
  });

  test("custom tags are errors: `!vault x` would silently be the string x", async () => {
    expect(await tenantLines("displayName: !vault secret/acme\n")).toEqual([
      "acme.yaml:7:16: YAML: custom YAML tags are not supported: tenant files hold plain values (and reference Secrets by name)",
    ]);
  });

  test("merge keys are explained, not just unknown", async () => {
    expect(await tenantLines("server:\n  <<: { replicas: 2 }\n")).toEqual([
      'acme.yaml:8:5: spec.server["<<"]: YAML merge keys (<<) are not supported: write the fields out (or let a plan carry what tenants share)',
    ]);
  });

  test("tabs as indentation", async () => {
    expect(await tenantLines("server:\n\treplicas: 2\n")).toEqual([
      "acme.yaml:8:3: YAML: Tabs are not allowed as indentation",
    ]);
  });

  test("yes/no are strings (YAML 1.2), so `enabled: no` is caught rather than silently false", async () => {
    expect(await tenantLines("backup:\n  enabled: no\n")).toEqual([
      'acme.yaml:8:14: spec.backup.enabled: must be true or false (got "no")',
    ]);
  });
});

test("an owner without a name is reported, and the rest of the file is still checked", async () => {
  const text = tenantYaml("acme", "backup: { schedule: '* * *' }\n").replace(
    "owners: [{ kind: Group, name: team }]",
    "owners: [{ kind: User }]",
  );
  expect((await loadFixture({ "acme.yaml": text })).lines).toEqual([
    'acme.yaml:6:12: spec.owners[0]: missing required field "name"',
    'acme.yaml:7:23: spec.backup.schedule: "* * *" has 3 fields; a schedule has 5: minute hour day-of-month month day-of-week',
  ]);
});
