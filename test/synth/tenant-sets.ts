/**
 * Tenant sets for the synth tests and `bench:synth`: the examples, named variants that switch on what the
 * examples leave off (decommission, autoscaling with an egress extra rule, one replica, ...), and generated
 * tenants cycling through the plans. Written as tenant files, so every set goes through real validation.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const EXAMPLES_DIR = fileURLToPath(new URL("../../tenants/", import.meta.url));
export const EXAMPLE_PLATFORM = readFileSync(join(EXAMPLES_DIR, "_platform.yaml"), "utf8");

const header = (name: string) => [
  "apiVersion: neurallog.io/v1alpha1",
  "kind: Tenant",
  "metadata:",
  `  name: ${name}`,
  "spec:",
];

/** Variants beyond the examples: each exercises an option the examples do not. */
export const VARIANTS: Readonly<Record<string, string>> = {
  // Being decommissioned, without scheduled backups: the final backup still needs its volume.
  umbrella: [
    ...header("umbrella"),
    "  plan: standard",
    "  owners: [{ kind: Group, name: umbrella-ops }]",
    "  decommission: true",
    "  redis:",
    "    passwordSecret: { name: umbrella-redis, key: secret }",
    "  backup:",
    "    enabled: false",
    "",
  ].join("\n"),
  // Autoscaled on the standard plan, egress extra rule with an except list, a pod-scoped extra rule.
  hooli: [
    ...header("hooli"),
    "  plan: standard",
    "  owners: [{ kind: User, name: gavin, email: gavin@hooli.example }]",
    "  annotations:",
    "    hooli.example/cost-owner: platform",
    "  server:",
    "    replicas: 2",
    "    autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 3 }",
    "  quota:",
    "    hard: { pods: '12', requests.cpu: '3', limits.cpu: '8', requests.memory: 3Gi, limits.memory: 6Gi }",
    "  network:",
    "    webhookEgress:",
    "      - { cidr: 10.20.0.0/16, ports: [9093], internal: true, description: self-hosted Alertmanager }",
    "    extraRules:",
    "      - name: to-object-store",
    "        direction: egress",
    "        podSelector: { matchLabels: { app.kubernetes.io/component: backup } }",
    "        peers: [{ cidr: 10.0.0.0/8, except: [10.1.0.0/16] }]",
    "        ports: [{ port: 9000 }, { port: 9001, protocol: TCP }]",
    "",
  ].join("\n"),
  // Placement: the server spread over a node pool it prefers, Redis and its backups pinned to tainted storage nodes.
  vandelay: [
    ...header("vandelay"),
    "  owners: [{ kind: Group, name: vandelay-imports }]",
    "  server:",
    "    affinity:",
    "      nodeAffinity:",
    "        preferredDuringSchedulingIgnoredDuringExecution:",
    "          - weight: 80",
    "            preference: { matchExpressions: [{ key: pool.example.com/name, operator: In, values: [logs] }] }",
    "  redis:",
    "    nodeSelector: { pool.example.com/name: storage }",
    "    tolerations: [{ key: pool.example.com/dedicated, operator: Equal, value: storage, effect: NoSchedule }]",
    "  backup:",
    "    nodeSelector: { pool.example.com/name: storage }",
    "    tolerations: [{ key: pool.example.com/dedicated, operator: Exists }]",
    "",
  ].join("\n"),
  // The smallest plan, one replica: the PDB must not block a drain.
  piedpiper: [
    ...header("piedpiper"),
    "  plan: small",
    "  owners: [{ kind: Group, name: pp }]",
    "  labels:",
    "    team: compression",
    "",
  ].join("\n"),
};

/** Generated tenant `index`, cycling through plans and options like the examples do. */
export function generatedTenant(index: number): { name: string; text: string } {
  const name = `t${String(index).padStart(5, "0")}`;
  const variant = index % 4;
  const lines = [
    ...header(name),
    `  plan: ${["small", "standard", "large", "standard"][variant]}`,
    "  owners:",
    `    - { kind: Group, name: ${name}-team }`,
    "  labels:",
    `    cost-center: cc-${index}`,
  ];
  if (variant === 1) {
    lines.push(
      "  server:",
      "    ingress:",
      "      allowedSourceCIDRs: [203.0.113.0/24]",
      "  network:",
      "    webhookEgress:",
      "      - { cidr: 192.0.2.10/32, ports: [443] }",
    );
  }
  if (variant === 2) {
    lines.push(
      "  redis:",
      `    passwordSecret: { name: ${name}-redis-auth }`,
      "  network:",
      "    apiAccess:",
      "      fromCIDRs: [10.20.0.0/16]",
      "    extraRules:",
      "      - name: allow-collector",
      "        direction: ingress",
      "        peers: [{ namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: otel } } }]",
      "        ports: [{ port: 8080 }]",
    );
  }
  if (variant === 3) lines.push("  suspend: true", "  backup:", "    enabled: false");
  return { name, text: `${lines.join("\n")}\n` };
}

/** Writes a tenant directory: the platform file and `name.yaml` for each entry. */
export function writeTenantDir(
  dir: string,
  tenants: Readonly<Record<string, string>>,
  platform = EXAMPLE_PLATFORM,
) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "_platform.yaml"), platform);
  for (const [name, text] of Object.entries(tenants)) writeFileSync(join(dir, `${name}.yaml`), text);
}

/** The example tenants as `name → text`. */
export function exampleTenants(): Record<string, string> {
  const files = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith(".yaml") && !f.startsWith("_"));
  return Object.fromEntries(
    files.sort().map((f) => [f.slice(0, -".yaml".length), readFileSync(join(EXAMPLES_DIR, f), "utf8")]),
  );
}
