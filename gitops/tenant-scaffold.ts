/**
 * `neurallog tenant new`: the text of a fresh tenant file. Only the required fields are set; the knobs people
 * reach for first are present as comments, so a new tenant's author edits a file instead of reading a reference.
 */
import { stringify } from "yaml";
import { MAX_TENANT_NAME_LENGTH } from "../charts-src/index.ts";
import type { OwnerInput } from "../contracts/resolved-tenant.ts";

export interface TenantScaffold {
  readonly name: string;
  readonly plan: string;
  /** Plans of the platform file, listed in the comment next to `plan:`. */
  readonly planNames: readonly string[];
  readonly owners: readonly OwnerInput[];
  /** Base domain of the platform, for the host shown in the commented example. */
  readonly baseDomain: string;
  /** `$schema` reference relative to the tenant file, for editors (yaml-language-server). */
  readonly schemaPath: string;
}

const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why NAME cannot be a tenant name, or undefined when it can. */
export function tenantNameProblem(name: string): string | undefined {
  if (!NAME_PATTERN.test(name)) {
    return `invalid tenant name "${name}": use lowercase letters, digits and '-', starting and ending with a letter or digit`;
  }
  if (name.length > MAX_TENANT_NAME_LENGTH) {
    return `invalid tenant name "${name}": at most ${MAX_TENANT_NAME_LENGTH} characters (names derived from it must fit Kubernetes' limits)`;
  }
  return undefined;
}

const OWNER_KINDS: Record<string, OwnerInput["kind"]> = {
  user: "User",
  group: "Group",
  serviceaccount: "ServiceAccount",
};

/**
 * `--owner` values: `group:NAME`, `user:NAME`, `serviceaccount:NAME`, or a bare e-mail address (a User whose
 * name and email are the address). Throws with the accepted forms on anything else.
 */
export function parseOwner(value: string): OwnerInput {
  const colon = value.indexOf(":");
  if (colon > 0) {
    const kind = OWNER_KINDS[value.slice(0, colon).toLowerCase()];
    const name = value.slice(colon + 1).trim();
    if (kind && name)
      return name.includes("@") && kind === "User" ? { kind, name, email: name } : { kind, name };
  } else if (/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)) {
    return { kind: "User", name: value, email: value };
  }
  throw new Error(
    `invalid owner "${value}": use group:NAME, user:NAME, serviceaccount:NAME or an e-mail address`,
  );
}

/** A YAML scalar, quoted only when YAML needs it. */
function scalar(value: string): string {
  return stringify(value).trimEnd();
}

export function renderTenantFile(s: TenantScaffold): string {
  const owners = s.owners.flatMap((o) => [
    `    - kind: ${o.kind}`,
    `      name: ${scalar(o.name)}`,
    ...(o.email ? [`      email: ${scalar(o.email)}`] : []),
  ]);
  return [
    `# yaml-language-server: $schema=${s.schemaPath}`,
    `# Tenant ${s.name}, scaffolded by \`neurallog tenant new\`. Everything not set here comes from the plan`,
    `# (see _platform.yaml) and the built-in defaults; uncomment what you need. Check with \`neurallog validate\`,`,
    `# see what it renders with \`neurallog diff\`.`,
    `apiVersion: neurallog.io/v1alpha1`,
    `kind: Tenant`,
    `metadata:`,
    `  name: ${s.name}`,
    `spec:`,
    `  # Sizing preset from the platform file (${s.planNames.join(", ")}); fields below override it.`,
    `  plan: ${scalar(s.plan)}`,
    `  # Who is responsible for this tenant: User, Group or ServiceAccount.`,
    `  owners:`,
    ...owners,
    `  # displayName: ${scalar(s.name)}`,
    `  # labels: { cost-center: cc-0000 }`,
    `  # server:`,
    `  #   ingress:`,
    `  #     host: ${s.name}.${s.baseDomain}  # the default`,
    `  #     allowedSourceCIDRs: [203.0.113.0/24]  # default: any client`,
    `  #   logRetention: { maxAge: 7d, maxEntries: 1000000 }`,
    `  #   apiKeysSecret: { name: ${s.name}-api-keys }  # a Secret you create; keys never go into git`,
    `  # redis:`,
    `  #   storage: { size: 10Gi }`,
    `  # network:`,
    `  #   webhookEgress:  # where alert webhooks may go; default: nowhere`,
    `  #     - { cidr: 192.0.2.10/32, ports: [443], description: alert relay }`,
    `  # backup:`,
    `  #   schedule: "17 2 * * *"`,
    `  #   retention: { keep: 7, maxAge: 30d }`,
    `  # Removing a tenant takes two pull requests: first set \`decommission: true\` (server scaled to zero,`,
    `  # a final backup runs, data kept), then delete this file. See docs/runbooks/decommission.md.`,
    ``,
  ].join("\n");
}
