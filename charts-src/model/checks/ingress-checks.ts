/**
 * What a tenant may ask of the shared ingress controller. The controller serves every tenant, so a tenant file
 * must not claim a host outside its domains, pick another controller, or pass annotations that inject nginx
 * configuration (`server-snippet`), widen access (`whitelist-source-range`) or steer Argo CD (issue 12 item 7).
 * Plans are the platform's own and are not limited here.
 */
import type { LoadedPlatform } from "../loaded-tree.ts";
import type { TenantFile } from "../tenant-schema.ts";
import type { Report } from "./report.ts";

/** Tuning a tenant may need; nothing that adds configuration text, changes access or names other objects. */
export const DEFAULT_TENANT_INGRESS_ANNOTATIONS = [
  "nginx.ingress.kubernetes.io/proxy-body-size",
  "nginx.ingress.kubernetes.io/proxy-read-timeout",
  "nginx.ingress.kubernetes.io/proxy-send-timeout",
  "nginx.ingress.kubernetes.io/proxy-connect-timeout",
  "nginx.ingress.kubernetes.io/limit-rps",
  "nginx.ingress.kubernetes.io/limit-rpm",
  "nginx.ingress.kubernetes.io/limit-connections",
  "nginx.ingress.kubernetes.io/limit-burst-multiplier",
] as const;

/** Refused even when a platform lists them: each hands a tenant control over others or over the deployment. */
const NEVER_ALLOWED = [
  /(^|\/)server-snippet$/,
  /(^|\/)configuration-snippet$/,
  /(^|\/)auth-snippet$/,
  /(^|\/)stream-snippet$/,
  /(^|\/)whitelist-source-range$/,
  /(^|\/)denylist-source-range$/,
  /^argocd\.argoproj\.io\//,
];

export function tenantAnnotationAllowList(platform: LoadedPlatform): readonly string[] {
  return platform.value.spec.ingress.tenantAnnotations ?? DEFAULT_TENANT_INGRESS_ANNOTATIONS;
}

/** The host is the base domain's, or a domain the platform grants this tenant (the name itself or below it). */
export function tenantHostDomains(platform: LoadedPlatform, tenant: string): string[] {
  const spec = platform.value.spec;
  return [spec.baseDomain, ...(spec.ingress.tenantDomains?.[tenant] ?? [])];
}

const under = (host: string, domain: string) =>
  host.toLowerCase() === domain.toLowerCase() || host.toLowerCase().endsWith(`.${domain.toLowerCase()}`);

export function checkTenantIngress(tenant: TenantFile, platform: LoadedPlatform, report: Report): void {
  const ingress = tenant.spec.server?.ingress;
  if (!ingress) return;
  const at = (...rest: (string | number)[]) => ["spec", "server", "ingress", ...rest];
  if (ingress.host !== undefined) {
    const domains = tenantHostDomains(platform, tenant.metadata.name);
    if (!domains.some((d) => under(ingress.host!, d))) {
      report.error(
        at("host"),
        `host "${ingress.host}" is not under ${domains.join(" or ")} (the platform's baseDomain, or spec.ingress.tenantDomains.${tenant.metadata.name})`,
      );
    }
  }
  const platformClass = platform.value.spec.ingress.className;
  if (ingress.className !== undefined && ingress.className !== platformClass) {
    report.error(
      at("className"),
      `ingress class "${ingress.className}" is not the platform's ("${platformClass}"): tenants use the platform's ingress controller`,
    );
  }
  const allowed = tenantAnnotationAllowList(platform);
  for (const key of Object.keys(ingress.annotations ?? {})) {
    if (NEVER_ALLOWED.some((pattern) => pattern.test(key))) {
      report.error(at("annotations", key), `annotation "${key}" is never allowed on a tenant ingress`, {
        at: "key",
      });
    } else if (!allowed.includes(key)) {
      report.error(
        at("annotations", key),
        `annotation "${key}" is not on the platform's allow-list (spec.ingress.tenantAnnotations: ${allowed.join(", ")})`,
        { at: "key" },
      );
    }
  }
}
