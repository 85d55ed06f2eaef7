/**
 * Checks of the literal values in the parts a tenant spec and a plan share (server, redis, quota, limitRange,
 * network, backup): things the JSON Schema cannot say, such as a CIDR that parses or a cron expression with five
 * valid fields. `base` is where the parts live: `["spec"]` in a tenant, `["spec","plans",name]` in the platform.
 */
import type { FieldPath } from "../field-path.ts";
import { parseQuantity } from "../../../contracts/quantity.ts";
import { MANAGED_BY, PART_OF } from "../../../contracts/tenant-configmap.ts";
import type {
  ExtraRuleInput,
  LabelSelectorInput,
  PeerInput,
  PlanSpecInput,
  ResourceListInput,
} from "../tenant-schema.ts";
import { cidrContains, isEverywhere, parseCidr, type ParsedCidr } from "./cidr.ts";
import {
  containedMetadataAddresses,
  overlappedInternalCidrs,
} from "../../../contracts/network/internal-address.ts";
import { isDns1123Subdomain, labelValueProblem, qualifiedKeyProblem } from "./kubernetes-names.ts";
import { checkPlacement } from "./placement-checks.ts";
import type { Report } from "./report.ts";
import { cronProblem, timeZoneProblem } from "./schedule.ts";

/** Quota keys that count objects, not amounts. */
const COUNT_KEYS = new Set([
  "pods",
  "services",
  "services.loadbalancers",
  "services.nodeports",
  "persistentvolumeclaims",
  "configmaps",
  "secrets",
  "count/cronjobs.batch",
  "count/jobs.batch",
]);

/**
 * Returns whether every quantity is usable for arithmetic: when one is not (CPU in bytes, memory in
 * millibytes), the sizing checks would only add noise on top of the real mistake, so callers skip them.
 */
export function checkSpecParts(
  parts: PlanSpecInput,
  base: FieldPath,
  report: Report,
): { quantitiesUsable: boolean } {
  const at: At = (...path) => [...base, ...path];
  const before = report.diagnostics.length;
  checkQuantities(parts, at, report);
  const quantitiesUsable = report.diagnostics.length === before;
  checkNames(parts, at, report);
  checkNetwork(parts, at, report);
  checkPlacement(parts, base, report);
  checkBackupSchedule(parts, at, report);
  return { quantitiesUsable };
}

type At = (...path: (string | number)[]) => FieldPath;

/** Units that parse but cannot be meant (CPU in bytes, memory in millibytes, a fractional pod count). */
function checkQuantities(parts: PlanSpecInput, at: At, report: Report): void {
  const resourceList = (list: ResourceListInput | undefined, path: FieldPath) => {
    if (list?.cpu !== undefined) cpuQuantity(list.cpu, [...path, "cpu"], report);
    if (list?.memory !== undefined) byteQuantity(list.memory, [...path, "memory"], report);
  };
  for (const part of ["server", "redis"] as const) {
    const resources = parts[part]?.resources;
    resourceList(resources?.requests, at(part, "resources", "requests"));
    resourceList(resources?.limits, at(part, "resources", "limits"));
  }
  for (const kind of ["default", "defaultRequest", "max", "min"] as const) {
    resourceList(parts.limitRange?.[kind], at("limitRange", kind));
  }
  if (parts.redis?.storage?.size !== undefined) {
    byteQuantity(parts.redis.storage.size, at("redis", "storage", "size"), report, true);
  }
  if (parts.redis?.maxmemory !== undefined)
    byteQuantity(parts.redis.maxmemory, at("redis", "maxmemory"), report, true);
  if (parts.backup?.destination?.size !== undefined) {
    byteQuantity(parts.backup.destination.size, at("backup", "destination", "size"), report, true);
  }
  for (const [key, value] of Object.entries(parts.quota?.hard ?? {})) {
    if (value === undefined) continue;
    const path = at("quota", "hard", key);
    if (COUNT_KEYS.has(key)) {
      const n = parseQuantity(value);
      if (n === undefined || !Number.isInteger(n) || n < 0)
        report.error(path, `must be a whole number of objects (got "${value}")`);
    } else if (key.endsWith(".cpu")) cpuQuantity(value, path, report);
    else byteQuantity(value, path, report);
  }
}

/** Names the API server checks: Secret, storage and ingress class names, host labels, annotation keys. */
function checkNames(parts: PlanSpecInput, at: At, report: Report): void {
  const subdomain = (value: string | undefined, path: FieldPath, what: string) => {
    if (value !== undefined && !isDns1123Subdomain(value)) {
      report.error(
        path,
        `${what} "${value}" must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'`,
      );
    }
  };
  subdomain(parts.server?.ingress?.tlsSecretName, at("server", "ingress", "tlsSecretName"), "Secret name");
  subdomain(
    parts.redis?.storage?.storageClassName,
    at("redis", "storage", "storageClassName"),
    "storage class",
  );
  subdomain(
    parts.backup?.destination?.storageClassName,
    at("backup", "destination", "storageClassName"),
    "storage class",
  );
  subdomain(parts.server?.ingress?.className, at("server", "ingress", "className"), "ingress class");
  const host = parts.server?.ingress?.host;
  if (host !== undefined) {
    const long = host.split(".").find((label) => label.length > 63);
    if (long)
      report.error(at("server", "ingress", "host"), `host label "${long}" is longer than 63 characters`);
  }
  for (const [key] of Object.entries(parts.server?.ingress?.annotations ?? {})) {
    const problem = qualifiedKeyProblem(key);
    if (problem) report.error(at("server", "ingress", "annotations", key), problem, { at: "key" });
  }
}

/** CIDRs that parse, selectors the API server accepts, extra rules with distinct names, webhook egress not open to all. */
function checkNetwork(parts: PlanSpecInput, at: At, report: Report): void {
  const cidr = (text: string, path: FieldPath): ParsedCidr | undefined => {
    const result = parseCidr(text);
    if ("problem" in result) report.error(path, result.problem);
    return "cidr" in result ? result.cidr : undefined;
  };
  (parts.server?.ingress?.allowedSourceCIDRs ?? []).forEach((c, i) =>
    cidr(c, at("server", "ingress", "allowedSourceCIDRs", i)),
  );
  (parts.network?.apiAccess?.fromCIDRs ?? []).forEach((c, i) =>
    cidr(c, at("network", "apiAccess", "fromCIDRs", i)),
  );
  (parts.network?.apiAccess?.fromNamespaces ?? []).forEach((s, i) =>
    selector(s, at("network", "apiAccess", "fromNamespaces", i), report),
  );
  (parts.network?.webhookEgress ?? []).forEach((w, i) => {
    const path = at("network", "webhookEgress", i, "cidr");
    const parsed = cidr(w.cidr, path);
    if (parsed) checkWebhookRange(w.cidr, parsed, w.internal ?? false, path, report);
  });
  const ruleNames = new Map<string, number>();
  (parts.network?.extraRules ?? []).forEach((rule, i) => {
    const rulePath = at("network", "extraRules", i);
    const first = ruleNames.get(rule.name);
    if (first !== undefined) {
      report.error(
        [...rulePath, "name"],
        `"${rule.name}" is already the name of extraRules[${first}]; each rule becomes its own NetworkPolicy`,
      );
    } else ruleNames.set(rule.name, i);
    if (rule.podSelector) selector(rule.podSelector, [...rulePath, "podSelector"], report);
    rule.peers.forEach((peer, j) => checkPeer(peer, [...rulePath, "peers", j], report, cidr));
    checkRedisExposure(rule, rulePath, report);
  });
}

/**
 * The fixed labels of a tenant's Redis pods (constructs/metadata.ts selectorLabels and tenantLabels) and its
 * port: a rule selects Redis unless one of its labels contradicts these (any other label may be a tenant label,
 * which every pod carries).
 */
const REDIS_POD_LABELS: Readonly<Record<string, string>> = {
  "app.kubernetes.io/name": "redis",
  "app.kubernetes.io/component": "redis",
  "app.kubernetes.io/part-of": PART_OF,
  "app.kubernetes.io/managed-by": MANAGED_BY,
};
const REDIS_PORT = 6379;

/**
 * An ingress rule that lets every address, or every pod of every namespace, reach the tenant's Redis: an error,
 * not only a diff flag. Redis holds all of the tenant's logs and its password is the only other lock; the
 * server is what other namespaces and the ingress controller are meant to reach.
 */
function checkRedisExposure(rule: ExtraRuleInput, path: FieldPath, report: Report): void {
  if (rule.direction !== "ingress") return;
  const labels = Object.entries(rule.podSelector?.matchLabels ?? {});
  if (labels.some(([key, value]) => key in REDIS_POD_LABELS && REDIS_POD_LABELS[key] !== value)) return;
  const port = (rule.ports ?? []).find((p) => p.port === REDIS_PORT && (p.protocol ?? "TCP") === "TCP");
  if (rule.ports !== undefined && !port) return;
  rule.peers.forEach((peer, j) => {
    const parsed = peer.cidr !== undefined ? parseCidr(peer.cidr) : undefined;
    const range = parsed && "cidr" in parsed ? parsed.cidr : undefined;
    const everyNamespace =
      peer.namespaceSelector !== undefined &&
      Object.keys(peer.namespaceSelector.matchLabels ?? {}).length === 0 &&
      Object.keys(peer.podSelector?.matchLabels ?? {}).length === 0;
    const who =
      range && isEverywhere(range)
        ? `every address (${peer.cidr})`
        : everyNamespace
          ? "every pod of every namespace"
          : undefined;
    if (!who) return;
    report.error(
      [...path, "peers", j],
      `this rule opens the tenant's Redis (port ${REDIS_PORT}) to ${who}; Redis holds all the tenant's logs: ` +
        "select the server's pods (podSelector: { matchLabels: { app.kubernetes.io/component: server } }) " +
        "or name the sources",
    );
  });
}

/**
 * Webhook ranges reaching inside. The NetworkPolicy would let such traffic out, but the server's egress guard
 * refuses internal addresses unless the entry says `internal: true`, and metadata addresses always: the warning
 * says which of the two the author is about to meet.
 */
function checkWebhookRange(
  text: string,
  range: ParsedCidr,
  internal: boolean,
  path: FieldPath,
  report: Report,
) {
  if (isEverywhere(range)) {
    report.warning(path, `"${text}" lets the server send webhooks anywhere; list the destinations`);
    return;
  }
  const metadata = containedMetadataAddresses(range);
  if (metadata.length > 0) {
    report.warning(
      path,
      `"${text}" includes the cloud metadata address ${metadata.join(", ")}; the server never sends webhooks there`,
    );
  }
  const inside = overlappedInternalCidrs(range);
  if (inside.length > 0 && !internal) {
    report.warning(
      path,
      `"${text}" overlaps internal range ${inside.join(", ")}; the server refuses webhooks to internal addresses ` +
        "unless this entry says internal: true",
    );
  }
}

/** The backup schedule: five valid cron fields and a known time zone. */
function checkBackupSchedule(parts: PlanSpecInput, at: At, report: Report): void {
  if (parts.backup?.schedule !== undefined) {
    const problem = cronProblem(parts.backup.schedule);
    if (problem) report.error(at("backup", "schedule"), problem);
  }
  if (parts.backup?.timeZone !== undefined) {
    const problem = timeZoneProblem(parts.backup.timeZone);
    if (problem) report.error(at("backup", "timeZone"), problem);
  }
}

function checkPeer(
  peer: PeerInput,
  path: FieldPath,
  report: Report,
  cidr: (text: string, path: FieldPath) => ParsedCidr | undefined,
): void {
  const hasSelector = peer.namespaceSelector !== undefined || peer.podSelector !== undefined;
  if (peer.cidr !== undefined && hasSelector) {
    report.error(
      path,
      "a peer is either a cidr or namespace/pod selectors, not both (Kubernetes rejects the mix); split it into two peers",
    );
  } else if (peer.cidr === undefined && !hasSelector) {
    report.error(path, "a peer needs a cidr, a namespaceSelector or a podSelector");
  }
  if (peer.except !== undefined && peer.cidr === undefined) {
    report.error([...path, "except"], "except only applies to a cidr peer");
  }
  const outer = peer.cidr !== undefined ? cidr(peer.cidr, [...path, "cidr"]) : undefined;
  (peer.except ?? []).forEach((text, k) => {
    const inner = cidr(text, [...path, "except", k]);
    if (outer && inner && (!cidrContains(outer, inner) || inner.prefix === outer.prefix)) {
      report.error(
        [...path, "except", k],
        `"${text}" must lie strictly inside the peer's cidr "${peer.cidr}"`,
      );
    }
  });
  if (peer.namespaceSelector) selector(peer.namespaceSelector, [...path, "namespaceSelector"], report);
  if (peer.podSelector) selector(peer.podSelector, [...path, "podSelector"], report);
}

function selector(sel: LabelSelectorInput, path: FieldPath, report: Report): void {
  for (const [key, value] of Object.entries(sel.matchLabels)) {
    const keyProblem = qualifiedKeyProblem(key);
    if (keyProblem) report.error([...path, "matchLabels", key], keyProblem, { at: "key" });
    const valueProblem = labelValueProblem(value);
    if (valueProblem) report.error([...path, "matchLabels", key], valueProblem);
  }
}

/** CPU: decimal units only (`500m`, `2`); a binary suffix on CPU is a slip. */
function cpuQuantity(value: string, path: FieldPath, report: Report): void {
  if (/[KMGTPE]i$/.test(value))
    report.error(path, `"${value}" is a byte size; CPU is written in cores or millicores, e.g. 500m or 2`);
}

/** Bytes: `500m` is half a byte (a classic slip for `500Mi`); sizes of volumes must not be zero. */
function byteQuantity(value: string, path: FieldPath, report: Report, positive = false): void {
  if (/[0-9.]m$/.test(value)) {
    report.error(
      path,
      `"${value}" means ${value.slice(0, -1)} thousandths of a byte (did you mean "${value.slice(0, -1)}Mi"?)`,
    );
  } else if (positive && parseQuantity(value) === 0) report.error(path, "must be larger than zero");
}
