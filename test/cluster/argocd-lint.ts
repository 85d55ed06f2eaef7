/**
 * Our own checks of the Argo CD side of the rendered repo, for what the Argo CD CRD schemas cannot say: the
 * schemas accept any string as a sync option or sync wave, any project name, any destination. Argo CD ignores
 * an unknown or misspelled sync option silently (a `Prune=flase` protects nothing), so these are errors here.
 * Each finding names the object and what is wrong; all findings are reported at once.
 */
import type { KubernetesObject } from "@kubernetes/client-node";

const SYNC_WAVE = "argocd.argoproj.io/sync-wave";
const SYNC_OPTIONS = "argocd.argoproj.io/sync-options";

/** Options Argo CD understands on a resource's `argocd.argoproj.io/sync-options` annotation. */
export const RESOURCE_SYNC_OPTIONS = new Set([
  "Prune=false",
  "Prune=confirm",
  "Delete=false",
  "Delete=confirm",
  "Validate=false",
  "SkipDryRunOnMissingResource=true",
  "Replace=true",
  "Force=true",
  "ServerSideApply=true",
  "ServerSideApply=false",
]);

/** Options Argo CD understands in an Application's `spec.syncPolicy.syncOptions`. */
export const APPLICATION_SYNC_OPTIONS = new Set([
  "Validate=false",
  "SkipDryRunOnMissingResource=true",
  "PruneLast=true",
  "Replace=true",
  "Force=true",
  "ServerSideApply=true",
  "CreateNamespace=true",
  "ApplyOutOfSyncOnly=true",
  "RespectIgnoreDifferences=true",
  "FailOnSharedResource=true",
  "PrunePropagationPolicy=foreground",
  "PrunePropagationPolicy=background",
  "PrunePropagationPolicy=orphan",
  "Prune=false",
  "Delete=false",
]);

export interface SourcedObject {
  /** Where it came from, e.g. `tenants/acme/namespace.yaml`. */
  readonly source: string;
  readonly object: KubernetesObject;
}

type Json = Record<string, unknown>;
const asJson = (value: unknown): Json => (typeof value === "object" && value !== null ? (value as Json) : {});

function where(item: SourcedObject): string {
  const { kind, metadata } = item.object;
  return `${item.source}: ${kind} ${metadata?.namespace ? `${metadata.namespace}/` : ""}${metadata?.name}`;
}

function lintResourceAnnotations(item: SourcedObject, findings: string[]): void {
  const annotations = item.object.metadata?.annotations ?? {};
  const wave = annotations[SYNC_WAVE];
  // Argo CD parses the wave with strconv.Atoi: an optional sign and digits, nothing else.
  if (wave !== undefined && !/^[+-]?\d+$/.test(wave)) {
    findings.push(`${where(item)}: sync-wave "${wave}" is not an integer`);
  }
  const options = annotations[SYNC_OPTIONS];
  if (options !== undefined) {
    for (const option of options.split(",").map((o) => o.trim())) {
      if (!RESOURCE_SYNC_OPTIONS.has(option)) {
        findings.push(`${where(item)}: unknown sync option "${option}" in ${SYNC_OPTIONS}`);
      }
    }
  }
}

/** The Application spec an object defines: itself, or an ApplicationSet's template. */
function applicationSpec(object: KubernetesObject): Json | undefined {
  const json = object as unknown as Json;
  if (object.kind === "Application") return asJson(json.spec);
  if (object.kind === "ApplicationSet") return asJson(asJson(asJson(json.spec).template).spec);
  return undefined;
}

function waveOf(object: KubernetesObject): number {
  return Number(object.metadata?.annotations?.[SYNC_WAVE] ?? "0");
}

/**
 * The tenant's apply order, by wave: namespace and policies, then Redis, then the server, then the backup job.
 * Argo CD's kind order would put them in this order within one wave too, but only waves make Argo CD wait for
 * Redis to be healthy before it starts the server.
 */
const TENANT_WAVE_ORDER: readonly (readonly string[])[] = [
  ["Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy"],
  ["StatefulSet"],
  ["Deployment"],
  ["CronJob"],
];

function lintTenantWaves(tenant: string, items: readonly SourcedObject[], findings: string[]): void {
  const stages = TENANT_WAVE_ORDER.map((kinds) => items.filter((i) => kinds.includes(i.object.kind ?? "")));
  for (let i = 0; i < stages.length; i++) {
    for (let j = i + 1; j < stages.length; j++) {
      for (const early of stages[i] ?? []) {
        for (const late of stages[j] ?? []) {
          if (waveOf(early.object) >= waveOf(late.object)) {
            findings.push(
              `tenant ${tenant}: ${early.object.kind} ${early.object.metadata?.name} (wave ${waveOf(early.object)}) ` +
                `must sync in an earlier wave than ${late.object.kind} ${late.object.metadata?.name} (wave ${waveOf(late.object)})`,
            );
          }
        }
      }
    }
  }
}

/** Objects that hold tenant data, which neither pruning nor deleting an Application may remove. */
function holdsData(object: KubernetesObject): boolean {
  if (object.kind === "Namespace" || object.kind === "PersistentVolumeClaim") return true;
  const spec = asJson((object as unknown as Json).spec);
  return object.kind === "StatefulSet" && Array.isArray(spec.volumeClaimTemplates);
}

/**
 * Lints the rendered repo: `tenants` maps each tenant name to its objects, `argocd` holds the Argo CD objects.
 * Returns every finding; empty when all is well.
 */
export function lintArgoCd(
  tenants: ReadonlyMap<string, readonly SourcedObject[]>,
  argocd: readonly SourcedObject[],
): string[] {
  const findings: string[] = [];
  for (const item of [...argocd, ...[...tenants.values()].flat()]) lintResourceAnnotations(item, findings);

  const projects = new Set(
    argocd.filter((i) => i.object.kind === "AppProject").map((i) => i.object.metadata?.name),
  );
  for (const item of argocd) {
    const spec = applicationSpec(item.object);
    if (!spec) continue;
    const project = typeof spec.project === "string" ? spec.project : "default";
    // A templated project (`{{path.basename}}`) names one project per generated Application; it is checked below.
    if (!project.includes("{{") && !projects.has(project)) {
      findings.push(`${where(item)}: project "${project}" is not an AppProject of the repo`);
    }
    const syncOptions = asJson(spec.syncPolicy).syncOptions;
    for (const option of Array.isArray(syncOptions) ? syncOptions : []) {
      if (typeof option !== "string" || !APPLICATION_SYNC_OPTIONS.has(option)) {
        findings.push(
          `${where(item)}: unknown sync option "${String(option)}" in spec.syncPolicy.syncOptions`,
        );
      }
    }
    if (item.object.kind === "ApplicationSet") {
      const preserve = asJson(
        asJson((item.object as unknown as Json).spec).syncPolicy,
      ).preserveResourcesOnDeletion;
      if (preserve !== true) {
        findings.push(
          `${where(item)}: spec.syncPolicy.preserveResourcesOnDeletion must be true (tenant data)`,
        );
      }
    }
  }

  for (const item of argocd.filter((i) => i.object.kind === "AppProject")) {
    const spec = asJson((item.object as unknown as Json).spec);
    const destinations = Array.isArray(spec.destinations) ? spec.destinations.map(asJson) : [];
    for (const d of destinations) {
      if (d.namespace === undefined || String(d.namespace).includes("*")) {
        findings.push(`${where(item)}: destination namespace "${String(d.namespace)}" is not one namespace`);
      }
    }
    const whitelist = Array.isArray(spec.clusterResourceWhitelist)
      ? spec.clusterResourceWhitelist.map(asJson)
      : [];
    for (const w of whitelist) {
      if (String(w.kind).includes("*") || String(w.group).includes("*")) {
        findings.push(
          `${where(item)}: clusterResourceWhitelist entry ${String(w.group)}/${String(w.kind)} is a wildcard`,
        );
      }
    }
  }

  for (const [tenant, items] of tenants) {
    lintTenantWaves(tenant, items, findings);
    for (const item of items.filter((i) => holdsData(i.object))) {
      const options = (item.object.metadata?.annotations?.[SYNC_OPTIONS] ?? "")
        .split(",")
        .map((o) => o.trim());
      for (const required of ["Prune=false", "Delete=false"]) {
        if (!options.includes(required))
          findings.push(`${where(item)}: holds tenant data but lacks ${required}`);
      }
    }
  }
  return findings;
}
