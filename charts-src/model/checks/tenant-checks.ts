/** Semantic checks of one tenant file against the platform: everything the schema alone cannot say. */
import { basename, extname } from "node:path";
import type { Diagnostic } from "../diagnostic.ts";
import type { FieldPath } from "../field-path.ts";
import type { LoadedPlatform } from "../loaded-tree.ts";
import type { SynthTenant } from "../resolve.ts";
import { planOf, resolveTenant, tenantNamespace } from "../resolve.ts";
import { didYouMean } from "../suggest.ts";
import type { TenantFile } from "../tenant-schema.ts";
import { isWritten, type YamlSource } from "../yaml-source.ts";
import {
  isReservedNamespace,
  labelValueProblem,
  qualifiedKeyProblem,
  reservedKeyProblem,
} from "./kubernetes-names.ts";
import { reportFor, type Report } from "./report.ts";
import { checkSizing } from "./sizing-checks.ts";
import { checkSpecParts } from "./spec-checks.ts";
import { checkTenantIngress } from "./ingress-checks.ts";

/** The tenant's findings, and its resolved form when it could be resolved (the caller keeps it if clean). */
export function checkTenant(
  source: YamlSource,
  tenant: TenantFile,
  fileName: string,
  platform: LoadedPlatform | undefined,
): { diagnostics: Diagnostic[]; resolved?: SynthTenant } {
  const report = reportFor(source);
  const name = tenant.metadata.name;
  const expected = basename(fileName, extname(fileName));
  if (expected !== name) {
    report.error(
      ["metadata", "name"],
      `"${name}" must equal the file name: rename the file to ${name}.yaml or the tenant to "${expected}"`,
    );
  }

  const namespace = tenantNamespace(tenant);
  const namespacePath: FieldPath =
    tenant.spec.namespace !== undefined ? ["spec", "namespace"] : ["metadata", "name"];
  // No length check: the schema bounds spec.namespace to 63 and metadata.name to 45, so nl-<name> always fits.
  if (isReservedNamespace(namespace)) {
    report.error(namespacePath, `namespace "${namespace}" is reserved for Kubernetes itself`);
  } else if (platform) {
    const owner = platformNamespaces(platform).get(namespace);
    if (owner) report.error(namespacePath, `namespace "${namespace}" belongs to the platform (${owner})`);
    else if (!isTenantNamespace(platform, namespace)) {
      const { prefix, allowed } = tenantNamespaceRule(platform);
      const granted = allowed.length > 0 ? ` or one of ${allowed.join(", ")}` : "";
      report.error(
        namespacePath,
        `namespace "${namespace}" is not a tenant namespace: it must start with "${prefix}"${granted} (platform spec.tenantNamespaces)`,
      );
    }
  }

  if (platform) checkTenantIngress(tenant, platform, report);

  for (const field of ["labels", "annotations"] as const) {
    for (const [key, value] of Object.entries(tenant.spec[field] ?? {})) {
      const keyProblem = qualifiedKeyProblem(key) ?? reservedKeyProblem(key);
      if (keyProblem) report.error(["spec", field, key], keyProblem, { at: "key" });
      const valueProblem = field === "labels" ? labelValueProblem(value) : undefined;
      if (valueProblem) report.error(["spec", field, key], valueProblem);
    }
  }

  const { quantitiesUsable } = checkSpecParts(tenant.spec, ["spec"], report);

  if (!platform) return { diagnostics: report.diagnostics };
  const plan = planOf(tenant, platform.value);
  const plans = Object.keys(platform.value.spec.plans);
  if (!plans.includes(plan)) {
    // An unknown defaultPlan is the platform file's error; here only the tenant's own choice.
    if (tenant.spec.plan !== undefined) {
      report.error(
        ["spec", "plan"],
        `unknown plan "${plan}"${didYouMean(plan, plans)}; the platform offers ${plans.join(", ")}`,
      );
    }
    return { diagnostics: report.diagnostics };
  }
  const resolved = resolveTenant(tenant, platform.value);
  if (!quantitiesUsable) return { diagnostics: report.diagnostics, resolved };
  checkSizing(resolved, (paths, message) => {
    const full = paths.map((p) => ["spec", ...p]);
    // Sizes that come entirely from the plan are the platform file's problem, reported there once.
    if (!full.some((p) => isWritten(source, p))) return;
    const main: FieldPath = full[0] ?? ["spec"];
    const rest = full.slice(1);
    report.error(main, message(origin(report, platform, plan, main)), { alsoAt: rest });
  });
  return { diagnostics: report.diagnostics, resolved };
}

/** ` (from plan "x")`, ` (built-in default)` or nothing when the tenant file writes the value itself. */
function origin(report: Report, platform: LoadedPlatform, plan: string, path: FieldPath): string {
  if (isWritten(report.source, path)) return "";
  if (isWritten(platform.source, ["spec", "plans", plan, ...path.slice(1)])) return ` (from plan "${plan}")`;
  return " (built-in default)";
}

/** Tenant namespaces: the platform's prefix (default nl-, the default naming) or its explicit allow-list. */
export function tenantNamespaceRule(platform: LoadedPlatform): { prefix: string; allowed: string[] } {
  const rule = platform.value.spec.tenantNamespaces;
  return { prefix: rule?.prefix ?? "nl-", allowed: rule?.allowed ?? [] };
}

function isTenantNamespace(platform: LoadedPlatform, namespace: string): boolean {
  const { prefix, allowed } = tenantNamespaceRule(platform);
  return namespace.startsWith(prefix) || allowed.includes(namespace);
}

/** The namespaces the platform itself runs in, with what runs there. */
export function platformNamespaces(platform: LoadedPlatform): Map<string, string> {
  const p = platform.resolved;
  const namespaces = new Map<string, string>([
    [p.ingress.controllerNamespace, "the ingress controller"],
    [p.argocd.namespace, "Argo CD"],
    [p.controller.namespace, "the NeuralLog controller"],
  ]);
  if (p.monitoring) namespaces.set(p.monitoring.namespace, "monitoring");
  return namespaces;
}
