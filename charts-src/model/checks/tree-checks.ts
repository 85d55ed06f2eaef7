/** Checks across tenants: two tenants must never share a namespace or an ingress host. */
import type { Diagnostic } from "../diagnostic.ts";
import type { FieldPath } from "../field-path.ts";
import type { LoadedPlatform, LoadedTenant } from "../loaded-tree.ts";
import { tenantNamespace } from "../resolve.ts";
import { reportFor } from "./report.ts";

export function checkTree(
  tenants: readonly LoadedTenant[],
  platform: LoadedPlatform | undefined,
): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const claims = (
    what: string,
    claim: (t: LoadedTenant) => { value: string; path: FieldPath } | undefined,
  ) => {
    const byValue = new Map<string, { tenant: LoadedTenant; path: FieldPath }[]>();
    for (const tenant of tenants) {
      const c = claim(tenant);
      if (!c) continue;
      byValue.set(c.value, [...(byValue.get(c.value) ?? []), { tenant, path: c.path }]);
    }
    for (const [value, holders] of byValue) {
      if (holders.length < 2) continue;
      for (const { tenant, path } of holders) {
        const others = holders.filter((h) => h.tenant !== tenant).map((h) => h.tenant.file);
        const report = reportFor(tenant.source);
        report.error(path, `${what} "${value}" is also used by ${others.join(", ")}`);
        diagnostics.push(...report.diagnostics);
      }
    }
  };
  claims("tenant name", (t) => ({ value: t.value.metadata.name, path: ["metadata", "name"] }));
  claims("namespace", (t) => ({
    value: tenantNamespace(t.value),
    path: t.value.spec.namespace !== undefined ? ["spec", "namespace"] : ["metadata", "name"],
  }));
  if (platform) {
    claims("ingress host", (t) => {
      const ingress = t.value.spec.server?.ingress;
      // The resolved ingress includes what the plan says (a plan may turn ingress off or set a host).
      const resolved = t.resolved?.server.ingress;
      if ((resolved?.enabled ?? ingress?.enabled) === false) return undefined;
      const host =
        resolved?.host ?? ingress?.host ?? `${t.value.metadata.name}.${platform.value.spec.baseDomain}`;
      return {
        value: host,
        path: ingress?.host !== undefined ? ["spec", "server", "ingress", "host"] : ["metadata", "name"],
      };
    });
  }
  return diagnostics;
}
