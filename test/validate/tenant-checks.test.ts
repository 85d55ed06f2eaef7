/** Semantic checks of one tenant file: one test per check, each through the real loader on a temp directory. */
import { describe, expect, test } from "vitest";
import { loadFixture, TEST_PLATFORM, tenantLines, tenantYaml } from "./fixture-tree.ts";

describe("names and namespaces", () => {
  test("metadata.name must equal the file name", async () => {
    const { lines } = await loadFixture({ "acme.yaml": tenantYaml("acme-corp") });
    expect(lines).toEqual([
      'acme.yaml:4:9: metadata.name: "acme-corp" must equal the file name: rename the file to acme-corp.yaml or the tenant to "acme"',
    ]);
  });

  test("a tenant name is at most 45 characters, so every name derived from it fits Kubernetes' limits", async () => {
    const name = "a".repeat(46);
    const { lines } = await loadFixture({ [`${name}.yaml`]: tenantYaml(name) });
    expect(lines).toEqual([
      `${name}.yaml:4:9: metadata.name: must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 45 characters (got "${name}")`,
    ]);
    expect((await loadFixture({ [`${"a".repeat(45)}.yaml`]: tenantYaml("a".repeat(45)) })).lines).toEqual([]);
  });

  test("Kubernetes' own namespaces are refused", async () => {
    expect(await tenantLines("namespace: kube-system\n")).toEqual([
      'acme.yaml:7:14: spec.namespace: namespace "kube-system" is reserved for Kubernetes itself',
    ]);
    expect(await tenantLines("namespace: default\n")).toEqual([
      'acme.yaml:7:14: spec.namespace: namespace "default" is reserved for Kubernetes itself',
    ]);
  });

  test("the platform's namespaces are refused", async () => {
    expect(await tenantLines("namespace: ingress-nginx\n")).toEqual([
      'acme.yaml:7:14: spec.namespace: namespace "ingress-nginx" belongs to the platform (the ingress controller)',
    ]);
    expect(await tenantLines("namespace: monitoring\n")).toEqual([
      'acme.yaml:7:14: spec.namespace: namespace "monitoring" belongs to the platform (monitoring)',
    ]);
    expect(await tenantLines("namespace: neurallog-system\n")).toEqual([
      'acme.yaml:7:14: spec.namespace: namespace "neurallog-system" belongs to the platform (the NeuralLog controller)',
    ]);
    expect(await tenantLines("namespace: argocd\n")).toEqual([
      'acme.yaml:7:14: spec.namespace: namespace "argocd" belongs to the platform (Argo CD)',
    ]);
  });

  test("a namespace without the platform prefix is refused (issue 12: cert-manager passed)", async () => {
    expect(await tenantLines("namespace: cert-manager\n")).toEqual([
      'acme.yaml:7:14: spec.namespace: namespace "cert-manager" is not a tenant namespace: it must start with "nl-" (platform spec.tenantNamespaces)',
    ]);
    expect(await tenantLines("namespace: nl-acme-logs\n")).toEqual([]);
  });

  test("the platform's prefix and allow-list decide; the default nl-<name> then needs the prefix too", async () => {
    const platform = TEST_PLATFORM.replace(
      "  storageClassName: standard\n",
      "  storageClassName: standard\n  tenantNamespaces: { prefix: team-, allowed: [legacy-logs] }\n",
    );
    expect(platform).not.toBe(TEST_PLATFORM);
    const { lines } = await loadFixture(
      {
        "acme.yaml": tenantYaml("acme", "namespace: team-acme\n"),
        "globex.yaml": tenantYaml("globex", "namespace: legacy-logs\n"),
        "initech.yaml": tenantYaml("initech", "namespace: cert-manager\n"),
        "hooli.yaml": tenantYaml("hooli"),
      },
      platform,
    );
    expect(lines).toEqual([
      'hooli.yaml:4:9: metadata.name: namespace "nl-hooli" is not a tenant namespace: it must start with "team-" or one of legacy-logs (platform spec.tenantNamespaces)',
      'initech.yaml:7:14: spec.namespace: namespace "cert-manager" is not a tenant namespace: it must start with "team-" or one of legacy-logs (platform spec.tenantNamespaces)',
    ]);
  });

  test("two tenants in one namespace: reported on both files", async () => {
    const { lines } = await loadFixture({
      "acme.yaml": tenantYaml("acme", "namespace: nl-shared\n"),
      "globex.yaml": tenantYaml("globex", "namespace: nl-shared\n"),
    });
    expect(lines.map(stripOther)).toEqual([
      'acme.yaml:7:14: spec.namespace: namespace "nl-shared" is also used by globex.yaml',
      'globex.yaml:7:14: spec.namespace: namespace "nl-shared" is also used by acme.yaml',
    ]);
  });

  test("an explicit namespace that equals another tenant's default collides too", async () => {
    const { lines } = await loadFixture({
      "acme.yaml": tenantYaml("acme"),
      "globex.yaml": tenantYaml("globex", "namespace: nl-acme\n"),
    });
    expect(lines.map(stripOther)).toEqual([
      'acme.yaml:4:9: metadata.name: namespace "nl-acme" is also used by globex.yaml',
      'globex.yaml:7:14: spec.namespace: namespace "nl-acme" is also used by acme.yaml',
    ]);
  });

  test("two tenants with one ingress host: reported on both files", async () => {
    const { lines } = await loadFixture({
      "acme.yaml": tenantYaml("acme", "server:\n  ingress: { host: logs.logs.test.example }\n"),
      "globex.yaml": tenantYaml("globex", "server:\n  ingress: { host: logs.logs.test.example }\n"),
      "initech.yaml": tenantYaml(
        "initech",
        "server:\n  ingress: { enabled: false, host: logs.logs.test.example }\n",
      ),
    });
    expect(lines.map(stripOther)).toEqual([
      'acme.yaml:8:22: spec.server.ingress.host: ingress host "logs.logs.test.example" is also used by globex.yaml',
      'globex.yaml:8:22: spec.server.ingress.host: ingress host "logs.logs.test.example" is also used by acme.yaml',
    ]);
  });

  test("a host equal to another tenant's default host collides", async () => {
    const { lines } = await loadFixture({
      "acme.yaml": tenantYaml("acme"),
      "globex.yaml": tenantYaml("globex", "server:\n  ingress: { host: acme.logs.test.example }\n"),
    });
    expect(lines.map(stripOther)).toEqual([
      'acme.yaml:4:9: metadata.name: ingress host "acme.logs.test.example" is also used by globex.yaml',
      'globex.yaml:8:22: spec.server.ingress.host: ingress host "acme.logs.test.example" is also used by acme.yaml',
    ]);
  });

  test("one tenant in two files (acme.yaml and acme.yml)", async () => {
    const { lines } = await loadFixture({ "acme.yaml": tenantYaml("acme"), "acme.yml": tenantYaml("acme") });
    expect(lines.map(stripOther)).toContain(
      'acme.yaml:4:9: metadata.name: tenant name "acme" is also used by acme.yml',
    );
    expect(lines.map(stripOther)).toContain(
      'acme.yml:4:9: metadata.name: tenant name "acme" is also used by acme.yaml',
    );
  });

  test("label keys and values follow Kubernetes' rules", async () => {
    const lines = await tenantLines(
      'labels:\n  "-bad": x\n  team: "has spaces"\nannotations:\n  Example.COM/x: y\n',
    );
    expect(lines).toEqual([
      `acme.yaml:8:5: spec.labels["-bad"]: key name "-bad" must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
      "acme.yaml:9:11: spec.labels.team: a label value must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
      'acme.yaml:11:5: spec.annotations["Example.COM/x"]: key prefix "Example.COM" must be a DNS subdomain (lowercase, e.g. example.com)',
    ]);
  });

  test("keys Kubernetes or Argo CD act on are reserved: a tenant cannot weaken Pod Security or pruning", async () => {
    const lines = await tenantLines(
      [
        "labels:",
        "  pod-security.kubernetes.io/enforce: privileged",
        "  neurallog.io/tenant: other",
        "annotations:",
        "  argocd.argoproj.io/sync-options: Prune=true",
        "  team.example.com/owner: sre",
        "",
      ].join("\n"),
    );
    expect(lines).toEqual([
      'acme.yaml:8:5: spec.labels["pod-security.kubernetes.io/enforce"]: key "pod-security.kubernetes.io/enforce" is reserved (prefix kubernetes.io is acted on by Kubernetes); pick a key of your own domain',
      'acme.yaml:9:5: spec.labels["neurallog.io/tenant"]: key "neurallog.io/tenant" is set by NeuralLog itself',
      'acme.yaml:11:5: spec.annotations["argocd.argoproj.io/sync-options"]: key "argocd.argoproj.io/sync-options" is reserved (prefix argoproj.io is acted on by Argo CD); pick a key of your own domain',
    ]);
  });

  test("Secret and storage class names are DNS-1123 subdomains", async () => {
    const lines = await tenantLines(
      "server:\n  ingress: { tlsSecretName: Acme_TLS }\nredis:\n  storage: { storageClassName: Fast_SSD }\n",
    );
    expect(lines).toEqual([
      "acme.yaml:8:31: spec.server.ingress.tlsSecretName: Secret name \"Acme_TLS\" must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'",
      "acme.yaml:10:34: spec.redis.storage.storageClassName: storage class \"Fast_SSD\" must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'",
    ]);
  });
});

test("ingress host labels, class and annotation keys; backup storage class", async () => {
  const long = "x".repeat(64);
  const body = [
    "server:",
    "  ingress:",
    `    host: ${long}.logs.test.example`, // 9
    "    className: Nginx_Public", // 10
    "    annotations: { 'bad key': x }", // 11
    "backup:",
    "  destination: { storageClassName: Cold_HDD }", // 13
  ].join("\n");
  expect(await tenantLines(body)).toEqual([
    `acme.yaml:9:13: spec.server.ingress.host: host label "${long}" is longer than 63 characters`,
    'acme.yaml:10:18: spec.server.ingress.className: ingress class "Nginx_Public" is not the platform\'s ("nginx"): tenants use the platform\'s ingress controller',
    "acme.yaml:10:18: spec.server.ingress.className: ingress class \"Nginx_Public\" must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'",
    expect.stringMatching(/^acme\.yaml:11:22: .*annotation "bad key" is not on the platform's allow-list/),
    `acme.yaml:11:22: spec.server.ingress.annotations["bad key"]: key name "bad key" must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
    "acme.yaml:13:38: spec.backup.destination.storageClassName: storage class \"Cold_HDD\" must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'",
  ]);
});

describe("ingress (issue 12 item 7)", () => {
  test("a host outside baseDomain is refused; under it, or under a domain granted to the tenant, passes", async () => {
    expect(await tenantLines("server:\n  ingress: { host: login.victim.example }\n")).toEqual([
      'acme.yaml:8:22: spec.server.ingress.host: host "login.victim.example" is not under logs.test.example (the platform\'s baseDomain, or spec.ingress.tenantDomains.acme)',
    ]);
    expect(await tenantLines("server:\n  ingress: { host: evillogs.test.example }\n")).toHaveLength(1);
    expect(await tenantLines("server:\n  ingress: { host: api.logs.test.example }\n")).toEqual([]);
    const platform = TEST_PLATFORM.replace(
      "    controllerNamespace: ingress-nginx\n",
      "    controllerNamespace: ingress-nginx\n    tenantDomains: { acme: [acme.example] }\n",
    );
    expect(platform).not.toBe(TEST_PLATFORM);
    const { lines } = await loadFixture(
      {
        "acme.yaml": tenantYaml("acme", "server:\n  ingress: { host: logs.acme.example }\n"),
        "globex.yaml": tenantYaml("globex", "server:\n  ingress: { host: logs2.acme.example }\n"),
      },
      platform,
    );
    expect(lines).toEqual([
      'globex.yaml:8:22: spec.server.ingress.host: host "logs2.acme.example" is not under logs.test.example (the platform\'s baseDomain, or spec.ingress.tenantDomains.globex)',
    ]);
  });

  test("the ingress class is the platform's", async () => {
    expect(await tenantLines("server:\n  ingress: { className: nginx-internal }\n")).toEqual([
      'acme.yaml:8:27: spec.server.ingress.className: ingress class "nginx-internal" is not the platform\'s ("nginx"): tenants use the platform\'s ingress controller',
    ]);
    expect(await tenantLines("server:\n  ingress: { className: nginx }\n")).toEqual([]);
  });

  test("annotations pass only through the platform's allow-list; snippets, source ranges and Argo CD never", async () => {
    const body = [
      "server:",
      "  ingress:",
      "    annotations:",
      "      nginx.ingress.kubernetes.io/server-snippet: 'location / { return 200; }'", // 10
      "      nginx.ingress.kubernetes.io/configuration-snippet: x", // 11
      "      nginx.ingress.kubernetes.io/whitelist-source-range: 0.0.0.0/0", // 12
      "      argocd.argoproj.io/sync-options: Prune=false", // 13
      "      nginx.ingress.kubernetes.io/rewrite-target: /", // 14
      "      nginx.ingress.kubernetes.io/proxy-body-size: 16m", // 15
    ].join("\n");
    expect(await tenantLines(body)).toEqual([
      'acme.yaml:10:9: spec.server.ingress.annotations["nginx.ingress.kubernetes.io/server-snippet"]: annotation "nginx.ingress.kubernetes.io/server-snippet" is never allowed on a tenant ingress',
      'acme.yaml:11:9: spec.server.ingress.annotations["nginx.ingress.kubernetes.io/configuration-snippet"]: annotation "nginx.ingress.kubernetes.io/configuration-snippet" is never allowed on a tenant ingress',
      'acme.yaml:12:9: spec.server.ingress.annotations["nginx.ingress.kubernetes.io/whitelist-source-range"]: annotation "nginx.ingress.kubernetes.io/whitelist-source-range" is never allowed on a tenant ingress',
      'acme.yaml:13:9: spec.server.ingress.annotations["argocd.argoproj.io/sync-options"]: annotation "argocd.argoproj.io/sync-options" is never allowed on a tenant ingress',
      expect.stringMatching(
        /^acme\.yaml:14:9: .*annotation "nginx\.ingress\.kubernetes\.io\/rewrite-target" is not on the platform's allow-list \(spec\.ingress\.tenantAnnotations: nginx\.ingress\.kubernetes\.io\/proxy-body-size, /,
      ),
    ]);
    const platform = TEST_PLATFORM.replace(
      "    controllerNamespace: ingress-nginx\n",
      "    controllerNamespace: ingress-nginx\n    tenantAnnotations: [nginx.ingress.kubernetes.io/rewrite-target, nginx.ingress.kubernetes.io/server-snippet]\n",
    );
    const { lines } = await loadFixture({ "acme.yaml": tenantYaml("acme", body) }, platform);
    expect(lines.map((l) => l.split(":")[1])).toEqual(["10", "11", "12", "13", "15"]);
  });
});

test("a file larger than 1 MiB is refused before parsing", async () => {
  const { lines } = await loadFixture({ "acme.yaml": `${tenantYaml("acme")}# ${"x".repeat(1024 * 1024)}\n` });
  expect(lines).toEqual(["acme.yaml:1:1: file is larger than 1048576 bytes"]);
});

describe("plans", () => {
  test("an unknown plan gets a suggestion and the list", async () => {
    expect(await tenantLines("plan: smal\n")).toEqual([
      'acme.yaml:7:9: spec.plan: unknown plan "smal" (did you mean "small"?); the platform offers small, standard',
    ]);
  });

  test("an unknown plan far from any known one", async () => {
    expect(await tenantLines("plan: enterprise\n")).toEqual([
      'acme.yaml:7:9: spec.plan: unknown plan "enterprise"; the platform offers small, standard',
    ]);
  });
});

describe("quantities", () => {
  test("memory in millis and CPU in bytes are slips", async () => {
    const lines = await tenantLines("server:\n  resources:\n    requests: { cpu: 1Gi, memory: 256m }\n");
    expect(lines).toEqual([
      'acme.yaml:9:24: spec.server.resources.requests.cpu: "1Gi" is a byte size; CPU is written in cores or millicores, e.g. 500m or 2',
      'acme.yaml:9:37: spec.server.resources.requests.memory: "256m" means 256 thousandths of a byte (did you mean "256Mi"?)',
    ]);
  });

  test("volumes must not be empty", async () => {
    expect(await tenantLines('redis:\n  storage: { size: "0" }\n')).toEqual([
      "acme.yaml:8:22: spec.redis.storage.size: must be larger than zero",
    ]);
  });

  test("object counts in the quota are whole numbers", async () => {
    expect(await tenantLines('quota:\n  hard: { pods: "7.5", services: 1k }\n')).toEqual([
      'acme.yaml:8:19: spec.quota.hard.pods: must be a whole number of objects (got "7.5")',
    ]);
  });
});

describe("CIDRs and network peers", () => {
  test("CIDRs must parse, carry a prefix and have no host bits", async () => {
    const lines = await tenantLines(
      "network:\n  apiAccess:\n    fromCIDRs: [10.0.0.0/33, 192.168.1.7, 192.168.1.7/24, 2001:db8::1/32, nonsense, 2001:db8::/32]\n",
    );
    expect(lines).toEqual([
      'acme.yaml:9:19: spec.network.apiAccess.fromCIDRs[0]: "10.0.0.0/33" is not a valid IPv4 or IPv6 CIDR',
      'acme.yaml:9:32: spec.network.apiAccess.fromCIDRs[1]: "192.168.1.7" is not a CIDR: add the prefix length, e.g. 192.168.1.7/32',
      'acme.yaml:9:45: spec.network.apiAccess.fromCIDRs[2]: "192.168.1.7/24" has host bits set after the /24 prefix (did you mean "192.168.1.0/24"?)',
      'acme.yaml:9:61: spec.network.apiAccess.fromCIDRs[3]: "2001:db8::1/32" has host bits set after the /32 prefix (did you mean "2001:db8::/32"?)',
      'acme.yaml:9:77: spec.network.apiAccess.fromCIDRs[4]: "nonsense" is not a CIDR',
    ]);
  });

  test("an extra rule opening Redis to every address or every namespace is an error; the server's pods may be opened", async () => {
    const body = [
      "network:",
      "  extraRules:",
      "    - name: open-all", // 9
      "      direction: ingress",
      "      peers: [{ cidr: 0.0.0.0/0 }, { cidr: '::/0' }, { namespaceSelector: { matchLabels: {} } }]", // 11
      "    - name: open-redis-port",
      "      direction: ingress",
      "      podSelector: { matchLabels: { app.kubernetes.io/component: redis } }",
      "      ports: [{ port: 6379 }]",
      "      peers: [{ cidr: 0.0.0.0/0, except: [10.0.0.0/8] }]", // 16
      "    - name: open-server", // the server's pods: fine
      "      direction: ingress",
      "      podSelector: { matchLabels: { app.kubernetes.io/component: server } }",
      "      peers: [{ cidr: 0.0.0.0/0 }]",
      "    - name: other-port", // all pods, but not Redis' port: fine
      "      direction: ingress",
      "      ports: [{ port: 8080 }]",
      "      peers: [{ cidr: 0.0.0.0/0 }]",
      "    - name: named-source", // a named range: fine
      "      direction: ingress",
      "      peers: [{ cidr: 10.20.0.0/16 }]",
      "    - name: out", // egress: not an opening of Redis
      "      direction: egress",
      "      peers: [{ cidr: 0.0.0.0/0 }]",
    ].join("\n");
    const open = "this rule opens the tenant's Redis (port 6379) to";
    const advice =
      "Redis holds all the tenant's logs: select the server's pods (podSelector: { matchLabels: { app.kubernetes.io/component: server } }) or name the sources";
    expect(await tenantLines(body)).toEqual([
      `acme.yaml:11:17: spec.network.extraRules[0].peers[0]: ${open} every address (0.0.0.0/0); ${advice}`,
      `acme.yaml:11:38: spec.network.extraRules[0].peers[1]: ${open} every address (::/0); ${advice}`,
      `acme.yaml:11:56: spec.network.extraRules[0].peers[2]: ${open} every pod of every namespace; ${advice}`,
      `acme.yaml:16:17: spec.network.extraRules[1].peers[0]: ${open} every address (0.0.0.0/0); ${advice}`,
    ]);
  });

  test("a peer is a cidr or selectors, and except lies inside the cidr", async () => {
    const body = [
      "network:",
      "  extraRules:",
      "    - name: mixed", // 9
      "      direction: egress",
      "      peers:",
      "        - cidr: 10.0.0.0/8", // 12
      "          namespaceSelector: { matchLabels: { team: a } }",
      "          except: [11.0.0.0/16, 10.0.0.0/8]", // 14
      "        - {}", // 15
      "        - except: [10.1.0.0/16]", // 16
      "    - name: mixed", // 17
      "      direction: ingress",
      "      peers: [{ podSelector: { matchLabels: { app: x } } }]",
    ].join("\n");
    expect(await tenantLines(body)).toEqual([
      "acme.yaml:12:13: spec.network.extraRules[0].peers[0]: a peer is either a cidr or namespace/pod selectors, not both (Kubernetes rejects the mix); split it into two peers",
      'acme.yaml:14:22: spec.network.extraRules[0].peers[0].except[0]: "11.0.0.0/16" must lie strictly inside the peer\'s cidr "10.0.0.0/8"',
      'acme.yaml:14:35: spec.network.extraRules[0].peers[0].except[1]: "10.0.0.0/8" must lie strictly inside the peer\'s cidr "10.0.0.0/8"',
      "acme.yaml:15:13: spec.network.extraRules[0].peers[1]: a peer needs a cidr, a namespaceSelector or a podSelector",
      "acme.yaml:16:13: spec.network.extraRules[0].peers[2]: a peer needs a cidr, a namespaceSelector or a podSelector",
      "acme.yaml:16:21: spec.network.extraRules[0].peers[2].except: except only applies to a cidr peer",
      'acme.yaml:17:15: spec.network.extraRules[1].name: "mixed" is already the name of extraRules[0]; each rule becomes its own NetworkPolicy',
    ]);
  });

  test("webhook egress to everywhere is a warning, not an error", async () => {
    const { lines, result } = await loadFixture({
      "acme.yaml": tenantYaml("acme", "network:\n  webhookEgress: [{ cidr: 0.0.0.0/0 }]\n"),
    });
    expect(lines).toEqual([
      'acme.yaml:8:29: warning: spec.network.webhookEgress[0].cidr: "0.0.0.0/0" lets the server send webhooks anywhere; list the destinations',
    ]);
    expect(result.tenants[0]?.resolved).toBeDefined();
  });

  test("webhook ranges reaching inside warn, saying what the server will refuse", async () => {
    const body = [
      "network:",
      "  webhookEgress:",
      "    - { cidr: 169.254.0.0/16 }",
      "    - { cidr: 10.20.0.0/16 }",
      "    - { cidr: 10.30.0.0/16, internal: true }",
      "    - { cidr: 0.0.0.0/1, internal: true }",
      "    - { cidr: 8.8.8.0/24 }",
      "",
    ].join("\n");
    const { lines, result } = await loadFixture({ "acme.yaml": tenantYaml("acme", body) });
    expect(lines).toEqual([
      'acme.yaml:9:17: warning: spec.network.webhookEgress[0].cidr: "169.254.0.0/16" includes the cloud metadata address 169.254.169.254; the server never sends webhooks there',
      'acme.yaml:9:17: warning: spec.network.webhookEgress[0].cidr: "169.254.0.0/16" overlaps internal range 169.254.0.0/16; the server refuses webhooks to internal addresses unless this entry says internal: true',
      'acme.yaml:10:17: warning: spec.network.webhookEgress[1].cidr: "10.20.0.0/16" overlaps internal range 10.0.0.0/8; the server refuses webhooks to internal addresses unless this entry says internal: true',
      'acme.yaml:12:17: warning: spec.network.webhookEgress[3].cidr: "0.0.0.0/1" includes the cloud metadata address 100.100.100.200; the server never sends webhooks there',
    ]);
    expect(result.tenants[0]?.resolved?.network.webhookEgress.map((w) => w.internal)).toEqual([
      false,
      false,
      true,
      true,
      false,
    ]);
  });
});

describe("backup schedule", () => {
  test("cron expressions have five valid fields", async () => {
    expect(await tenantLines('backup: { schedule: "0 2 * * * *" }\n')).toEqual([
      'acme.yaml:7:23: spec.backup.schedule: "0 2 * * * *" has 6 fields; a schedule has 5: minute hour day-of-month month day-of-week',
    ]);
    const [line] = await tenantLines('backup: { schedule: "61 2 * * *" }\n');
    expect(line).toMatch(
      /^acme\.yaml:7:23: spec\.backup\.schedule: "61 2 \* \* \*" is not a valid cron expression \(.*59.*\)$/,
    );
  });

  test("time zones are IANA names, with a suggestion", async () => {
    expect(await tenantLines("backup: { timeZone: Europe/Berln }\n")).toEqual([
      'acme.yaml:7:23: spec.backup.timeZone: "Europe/Berln" is not an IANA time zone (did you mean "Europe/Berlin"?)',
    ]);
    expect(await tenantLines('backup: { timeZone: "+02:00" }\n')).toEqual([
      'acme.yaml:7:23: spec.backup.timeZone: "+02:00" is an offset, not an IANA time zone name such as Etc/GMT-1',
    ]);
    expect(await tenantLines("backup: { timeZone: Europe/Berlin, schedule: '*/30 * * * 1-5' }\n")).toEqual(
      [],
    );
  });
});

describe("sizes", () => {
  test("requests must not exceed limits", async () => {
    expect(
      await tenantLines("server:\n  resources:\n    requests: { cpu: 800m }\n    limits: { cpu: 600m }\n"),
    ).toEqual(["acme.yaml:9:24: spec.server.resources.requests.cpu: 800m is more than the limit 600m"]);
  });

  test("a limit below the plan's request says where the request comes from", async () => {
    expect(await tenantLines("redis:\n  resources:\n    limits: { memory: 200Mi }\n")).toEqual([
      "acme.yaml:9:25: spec.redis.resources.requests.memory: 256Mi (built-in default) is more than the limit 200Mi",
    ]);
  });

  test("LimitRange: min ≤ defaultRequest ≤ default ≤ max, and our containers fit", async () => {
    const lines = await tenantLines(
      "limitRange:\n  defaultRequest: { memory: 1Gi }\n  default: { memory: 512Mi }\n  max: { memory: 384Mi }\n",
    );
    expect(lines).toEqual([
      "acme.yaml:8:31: spec.limitRange.defaultRequest.memory: 1Gi is more than limitRange.default.memory 512Mi (min ≤ defaultRequest ≤ default ≤ max)",
      "acme.yaml:9:24: spec.limitRange.default.memory: 512Mi is more than limitRange.max.memory 384Mi (min ≤ defaultRequest ≤ default ≤ max)",
      "acme.yaml:10:20: spec.limitRange.max.memory: 384Mi is below the redis container's memory limit 512Mi; its pods would be rejected",
      "acme.yaml:10:20: spec.limitRange.max.memory: 384Mi is below the server container's memory limit 512Mi; its pods would be rejected",
    ]);
  });

  test("LimitRange min above a container's request", async () => {
    expect(await tenantLines("limitRange:\n  min: { cpu: 150m }\n")).toEqual([
      "acme.yaml:8:17: spec.limitRange.min.cpu: 150m is above the backup container's cpu request 100m; its pods would be rejected",
      "acme.yaml:8:17: spec.limitRange.min.cpu: 150m is above the redis container's cpu request 100m; its pods would be rejected",
      "acme.yaml:8:17: spec.limitRange.min.cpu: 150m is more than limitRange.defaultRequest.cpu 100m (min ≤ defaultRequest ≤ default ≤ max)",
    ]);
  });

  test("Redis maxmemory stays below the Redis memory limit", async () => {
    expect(await tenantLines("redis:\n  maxmemory: 512Mi\n")).toEqual([
      "acme.yaml:8:16: spec.redis.maxmemory: 512Mi must be below the Redis memory limit 512Mi: Redis needs headroom beyond its data (the default is 75% of the limit)",
    ]);
  });

  test("HPA maxReplicas ≥ minReplicas (which defaults to replicas)", async () => {
    expect(await tenantLines("server:\n  replicas: 6\n  autoscaling: { enabled: true }\n")).toEqual([
      "acme.yaml:8:15: spec.server.autoscaling.maxReplicas: 4 (built-in default) is below minReplicas 6 (which defaults to server.replicas)",
    ]);
  });

  test("the quota must hold the workloads at maximum scale, arithmetic included", async () => {
    const body = [
      "server:",
      "  resources: { requests: { cpu: 500m }, limits: { cpu: '1' } }", // 8
      "  autoscaling: { enabled: true, maxReplicas: 10 }",
      "redis:",
      "  resources: { requests: { cpu: '1' }, limits: { cpu: '2' } }",
      "quota:",
      "  hard:",
      '    requests.cpu: "2"', // 14
      "    requests.memory: 1Gi",
      "    limits.cpu: '20'",
      "    limits.memory: 100Gi",
      "    requests.storage: 12Gi",
      "    pods: '12'",
      "    persistentvolumeclaims: '1'",
    ].join("\n");
    expect(await tenantLines(body)).toEqual([
      'acme.yaml:14:21: spec.quota.hard["requests.cpu"]: 2 is less than the workloads need at maximum scale: server 11 × 500m + redis 1 + backup 100m = 6.6 (server: HPA maxReplicas 10 + 1 rolling-update surge pod)',
      'acme.yaml:15:24: spec.quota.hard["requests.memory"]: 1Gi is less than the workloads need at maximum scale: server 11 × 256Mi + redis 256Mi + backup 128Mi = 3200Mi (server: HPA maxReplicas 10 + 1 rolling-update surge pod)',
      'acme.yaml:18:25: spec.quota.hard["requests.storage"]: 12Gi is less than the workloads need at maximum scale: redis 5Gi + backup 10Gi = 15Gi (server: HPA maxReplicas 10 + 1 rolling-update surge pod)',
      "acme.yaml:19:13: spec.quota.hard.pods: 12 is less than the workloads need at maximum scale: server 11 + redis 1 + backup 1 = 13 (server: HPA maxReplicas 10 + 1 rolling-update surge pod)",
      "acme.yaml:20:31: spec.quota.hard.persistentvolumeclaims: 1 is less than the workloads need at maximum scale: redis 1 + backup 1 = 2 (server: HPA maxReplicas 10 + 1 rolling-update surge pod)",
    ]);
  });

  test("raising replicas past the plan's quota points at the replicas and names the plan", async () => {
    expect(await tenantLines("server:\n  replicas: 15\n")).toEqual([
      'acme.yaml:8:15: spec.quota.hard["limits.cpu"]: 8 (from plan "standard") is less than the workloads need at maximum scale: server 16 × 1 + redis 500m + backup 500m = 17 (server: replicas 15 + 1 rolling-update surge pod)',
      'acme.yaml:8:15: spec.quota.hard["limits.memory"]: 8Gi (from plan "standard") is less than the workloads need at maximum scale: server 16 × 512Mi + redis 512Mi + backup 256Mi = 8.75Gi (server: replicas 15 + 1 rolling-update surge pod)',
      'acme.yaml:8:15: spec.quota.hard["requests.cpu"]: 4 (from plan "standard") is less than the workloads need at maximum scale: server 16 × 250m + redis 100m + backup 100m = 4.2 (server: replicas 15 + 1 rolling-update surge pod)',
      'acme.yaml:8:15: spec.quota.hard["requests.memory"]: 4Gi (from plan "standard") is less than the workloads need at maximum scale: server 16 × 256Mi + redis 256Mi + backup 128Mi = 4480Mi (server: replicas 15 + 1 rolling-update surge pod)',
    ]);
  });

  test("without backups, neither the backup pod nor its volume count", async () => {
    expect(
      await tenantLines(
        "backup: { enabled: false }\nquota:\n  hard: { pods: '4', persistentvolumeclaims: '1' }\n",
      ),
    ).toEqual([]);
  });
});

describe("no plaintext secrets", () => {
  test("secret-named fields with literal values, anywhere (even inside an unknown field)", async () => {
    const body = [
      "server:",
      "  rules:",
      "    - name: page", // 9
      "      webhook: { url: https://hooks.example.com/x, token: s3cr3t-value }", // 10
      "annotations:",
      "  vendor.example.com/api-key: abcdef123456", // 12
    ].join("\n");
    const lines = await tenantLines(body);
    expect(lines).toEqual([
      'acme.yaml:9:9: spec.server.rules[0]: missing required field "type"',
      'acme.yaml:10:9: spec.server.rules[0].webhook: unknown field "webhook"; allowed here: id, name, description, enabled, severity, type, when, groupBy, window, threshold, op, field, aggregation, percentile, direction, ratio, minCount, realert, resolveAfter, notifyResolved, actions',
      'acme.yaml:10:61: spec.server.rules[0].webhook.token: "token" holds a literal value: secrets never go into tenant files; store it in a Secret and reference the Secret by name',
      'acme.yaml:12:33: spec.annotations["vendor.example.com/api-key"]: "vendor.example.com/api-key" holds a literal value: secrets never go into tenant files; store it in a Secret and reference the Secret by name',
    ]);
    expect(lines.join("\n")).not.toContain("s3cr3t-value");
  });

  test("values that look like credentials, whatever the field", async () => {
    const body = [
      "annotations:",
      "  a: AKIAIOSFODNN7EXAMPLE", // 8
      "  b: 'Bearer eyJhbGciOiJIUzI1NiJ9abcdefgh'", // 9
      "  c: https://deploy:hunter2@git.example.com/repo.git", // 10
      "  d: |", // 11
      "    -----BEGIN RSA PRIVATE KEY-----", // 12
      "    MIIEow",
      "    -----END RSA PRIVATE KEY-----",
    ].join("\n");
    const lines = await tenantLines(body);
    expect(lines.map((l) => l.replace(/: secrets never.*/, ""))).toEqual([
      "acme.yaml:8:8: spec.annotations.a: looks like an AWS access key",
      "acme.yaml:9:8: spec.annotations.b: looks like a bearer token",
      "acme.yaml:10:8: spec.annotations.c: looks like a URL with a password in it",
      "acme.yaml:11:8: spec.annotations.d: looks like a private key",
    ]);
    expect(lines.join("\n")).not.toMatch(/hunter2|AKIAIOSFODNN7EXAMPLE/);
  });

  test("a secret in a misspelt field is still reported, with the unknown field", async () => {
    expect(await tenantLines("redis:\n  password: hunter2\n")).toEqual([
      'acme.yaml:8:5: spec.redis.password: unknown field "password"; allowed here: storage, resources, maxmemory, maxmemoryPolicy, appendfsync, passwordSecret, nodeSelector, tolerations, affinity',
      'acme.yaml:8:15: spec.redis.password: "password" holds a literal value: secrets never go into tenant files; store it in a Secret and reference the Secret by name',
    ]);
  });

  test("schema messages do not echo a value that may be a secret", async () => {
    const lines = await tenantLines("redis:\n  passwordSecret: hunter2hunter2\n");
    expect(lines).toEqual([
      'acme.yaml:8:21: spec.redis.passwordSecret: "passwordSecret" holds a literal value: secrets never go into tenant files; store it in a Secret and reference the Secret by name',
      "acme.yaml:8:21: spec.redis.passwordSecret: must be a mapping of keys to values (got a string, not shown as it may be a secret)",
    ]);
  });

  test("references to Secrets by name are fine", async () => {
    const body =
      "server:\n  apiKeysSecret: { name: acme-keys, key: keys.json }\n  ingress: { tlsSecretName: acme-tls }\nredis:\n  passwordSecret: { name: acme-redis, key: password }\n";
    expect(await tenantLines(body)).toEqual([]);
  });
});

/** `… is also used by /tmp/nl-validate-XYZ/globex.yaml` → `… is also used by globex.yaml` */
function stripOther(line: string): string {
  return line.replace(/used by .*\/([^/]+)$/, "used by $1");
}

test("a plan that turns the ingress off takes its tenants out of the host check", async () => {
  const { TEST_PLATFORM } = await import("./fixture-tree.ts");
  const platform = TEST_PLATFORM.replace(
    "    small: {}",
    "    small:\n      server:\n        ingress: { enabled: false }",
  );
  const { lines } = await loadFixture(
    {
      "acme.yaml": tenantYaml(
        "acme",
        "plan: small\nserver:\n  ingress: { host: shared.logs.test.example }\n",
      ),
      "globex.yaml": tenantYaml("globex", "server:\n  ingress: { host: shared.logs.test.example }\n"),
    },
    platform,
  );
  expect(lines).toEqual([]);
});

test("a tenant with a schema error still takes part in the cross-tenant checks", async () => {
  const { lines, result } = await loadFixture({
    "acme.yaml": tenantYaml("acme", "server:\n  replcas: 2\n  ingress: { host: shared.logs.test.example }\n"),
    "globex.yaml": tenantYaml("globex", "server:\n  ingress: { host: shared.logs.test.example }\n"),
  });
  expect(lines.map((l) => l.replace(/used by .*\/([^/]+)$/, "used by $1"))).toEqual([
    'acme.yaml:8:5: spec.server.replcas: unknown field "replcas" (did you mean "replicas"?)',
    'acme.yaml:9:22: spec.server.ingress.host: ingress host "shared.logs.test.example" is also used by globex.yaml',
    'globex.yaml:8:22: spec.server.ingress.host: ingress host "shared.logs.test.example" is also used by acme.yaml',
  ]);
  // Not conforming as written: not handed to synth at all.
  expect(result.tenants.map((t) => t.value.metadata.name)).toEqual(["globex"]);
});
