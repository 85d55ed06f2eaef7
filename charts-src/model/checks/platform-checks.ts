/**
 * Semantic checks of the platform file: pinned images, the default plan, namespaces, the controller's placement
 * and every plan's sizes.
 */
import type { Diagnostic } from "../diagnostic.ts";
import type { FieldPath } from "../field-path.ts";
import { resolveTenant } from "../resolve.ts";
import { didYouMean } from "../suggest.ts";
import { TENANT_API_VERSION, type PlatformFile, type TenantFile } from "../tenant-schema.ts";
import { isWritten, type YamlSource } from "../yaml-source.ts";
import {
  isDns1123Label,
  isDns1123Subdomain,
  isReservedNamespace,
  labelValueProblem,
  qualifiedKeyProblem,
} from "./kubernetes-names.ts";
import { checkPodPlacement } from "./placement-checks.ts";
import { reportFor, type Report } from "./report.ts";
import { parseCidr } from "./cidr.ts";
import { checkSizing } from "./sizing-checks.ts";
import { checkSpecParts } from "./spec-checks.ts";

export function checkPlatform(source: YamlSource, platform: PlatformFile): Diagnostic[] {
  const report = reportFor(source);
  const spec = platform.spec;

  for (const [role, image] of Object.entries(spec.images)) {
    const problem = imageProblem(image);
    if (problem) report.error(["spec", "images", role], problem);
  }

  const plans = Object.keys(spec.plans);
  if (!plans.includes(spec.defaultPlan)) {
    report.error(
      ["spec", "defaultPlan"],
      `unknown plan "${spec.defaultPlan}"${didYouMean(spec.defaultPlan, plans)}; plans: ${plans.join(", ") || "none"}`,
    );
  }

  checkNames(spec, report);
  (spec.ingress.proxyCIDRs ?? []).forEach((text, i) => {
    const parsed = parseCidr(text);
    if ("problem" in parsed) report.error(["spec", "ingress", "proxyCIDRs", i], parsed.problem);
  });
  if (spec.controller) checkPodPlacement(spec.controller, ["spec", "controller"], report);
  checkPlans(source, platform, report);
  return report.diagnostics;
}

/** Namespaces, domains and class names the API server would refuse, the ingress pod labels, the repo URL. */
function checkNames(spec: PlatformFile["spec"], report: Report): void {
  const namespaces: [FieldPath, string | undefined][] = [
    [["spec", "ingress", "controllerNamespace"], spec.ingress.controllerNamespace],
    [["spec", "monitoring", "namespace"], spec.monitoring?.namespace],
    [["spec", "argocd", "namespace"], spec.argocd?.namespace],
    [["spec", "controller", "namespace"], spec.controller?.namespace],
  ];
  for (const [path, namespace] of namespaces) {
    if (namespace !== undefined && !isDns1123Label(namespace)) {
      report.error(path, `"${namespace}" is not a valid namespace name (a DNS-1123 label)`);
    }
  }
  const controllerNamespace = spec.controller?.namespace;
  if (controllerNamespace !== undefined && isReservedNamespace(controllerNamespace)) {
    report.error(
      ["spec", "controller", "namespace"],
      `namespace "${controllerNamespace}" is reserved for Kubernetes itself`,
    );
  }
  if (!isDns1123Subdomain(spec.baseDomain)) {
    report.error(
      ["spec", "baseDomain"],
      `"${spec.baseDomain}" is not a lowercase DNS domain such as logs.example.com`,
    );
  }
  if (!isDns1123Subdomain(spec.storageClassName)) {
    report.error(
      ["spec", "storageClassName"],
      `"${spec.storageClassName}" is not a valid storage class name`,
    );
  }
  if (!isDns1123Subdomain(spec.ingress.className)) {
    report.error(
      ["spec", "ingress", "className"],
      `"${spec.ingress.className}" is not a valid ingress class name`,
    );
  }
  const labelMaps: [FieldPath, Record<string, string> | undefined][] = [
    [["spec", "ingress", "controllerPodLabels"], spec.ingress.controllerPodLabels],
    [["spec", "monitoring", "prometheusOperator", "labels"], spec.monitoring?.prometheusOperator?.labels],
    [["spec", "monitoring", "grafanaDashboards", "labels"], spec.monitoring?.grafanaDashboards?.labels],
  ];
  for (const [path, labels] of labelMaps) {
    for (const [key, value] of Object.entries(labels ?? {})) {
      const problem = qualifiedKeyProblem(key) ?? labelValueProblem(value);
      if (problem) report.error([...path, key], problem);
    }
  }
  const runbooks = spec.monitoring?.prometheusOperator?.runbookBaseURL;
  if (runbooks !== undefined && !/^https?:\/\/[^/\s]+\/(\S*\/)?$/.test(runbooks)) {
    report.error(
      ["spec", "monitoring", "prometheusOperator", "runbookBaseURL"],
      `"${runbooks}" is not an http(s) URL ending in /: alerts link to <runbookBaseURL><runbook>.md`,
    );
  }
  if (spec.deploymentRepo.url.trim() === "")
    report.error(["spec", "deploymentRepo", "url"], "must not be empty");
}

/** Every plan's own values, then the sizes a tenant that takes the plan as it is starts from. */
function checkPlans(source: YamlSource, platform: PlatformFile, report: Report): void {
  for (const [name, plan] of Object.entries(platform.spec.plans)) {
    const base: FieldPath = ["spec", "plans", name];
    if (!checkSpecParts(plan, base, report).quantitiesUsable) continue;
    // A tenant that takes the plan as it is: what every tenant of this plan starts from.
    const probe: TenantFile = {
      apiVersion: TENANT_API_VERSION,
      kind: "Tenant",
      metadata: { name: "plan-probe" },
      spec: { plan: name, owners: [{ kind: "Group", name: "probe" }] },
    };
    checkSizing(resolveTenant(probe, platform), (paths, message) => {
      const full = paths.map((p) => [...base, ...p]);
      const main: FieldPath = full[0] ?? base;
      const rest = full.slice(1);
      const origin = isWritten(source, main) ? "" : " (built-in default)";
      // Nothing written in the plan: point at the plan itself.
      report.error(main, message(origin), { alsoAt: [...rest, base] });
    });
  }
}

const DIGEST = /@sha256:[a-f0-9]{64}$/;

/**
 * Images must be pinned: a digest, or at least a tag other than `latest`. A registry port
 * (`host:5000/repo`) is not a tag, hence the search after the last '/'.
 */
export function imageProblem(image: string): string | undefined {
  if (image.includes("@")) {
    return DIGEST.test(image)
      ? undefined
      : `"${image}" has a malformed digest; expected @sha256: and 64 hex digits`;
  }
  const lastPart = image.slice(image.lastIndexOf("/") + 1);
  const colon = lastPart.indexOf(":");
  if (colon < 0) return `"${image}" is not pinned: add a tag (e.g. :1.2.3) or a digest (@sha256:...)`;
  if (lastPart.slice(colon + 1) === "latest") {
    return `"${image}" uses the moving tag "latest": pin a version tag or a digest`;
  }
  return undefined;
}
