/**
 * Spec drift: the ResourceQuotas, LimitRanges and NetworkPolicies of a tenant namespace against the desired ones
 * from the tenant ConfigMap. Only the fields we own are compared: the tenant label and the spec fields synth
 * renders. The API server fills defaults (protocol TCP, policyTypes, LimitRange default ← max) and other tools add
 * labels and annotations; none of that is drift. Quantities compare by value ("1Gi" = "1024Mi").
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { parseQuantity } from "../../charts-src/model/quantity.ts";
import { DRIFT_KINDS, type DesiredObject, type DriftKind } from "./desired-state.ts";

export type DriftState = "missing" | "extra" | "different";

export interface DriftFinding {
  readonly kind: DriftKind;
  readonly name: string;
  readonly state: DriftState;
  /** For "different": the owned fields that differ, as paths (`spec.hard.pods`). */
  readonly fields: readonly string[];
}

/** An object of a drift kind in the cluster, as the cache holds it (read-only). */
export type ObservedObject = KubernetesObject & { readonly spec?: unknown };

/**
 * Maps the API server treats as a whole for our purpose: a key present in the cluster but not desired is drift
 * (an extra `spec.hard` entry is an extra limit on the tenant).
 */
const EXACT_MAPS: Readonly<Partial<Record<DriftKind, readonly string[]>>> = {
  ResourceQuota: ["spec.hard"],
};

export function detectDrift(
  desired: readonly DesiredObject[],
  observed: Readonly<Record<DriftKind, readonly ObservedObject[]>>,
  tenantLabel: { readonly key: string; readonly value: string },
): DriftFinding[] {
  const findings: DriftFinding[] = [];
  for (const kind of Object.keys(DRIFT_KINDS) as DriftKind[]) {
    const actualByName = new Map(observed[kind].map((o) => [o.metadata?.name ?? "", o]));
    const wanted = desired.filter((d) => d.kind === kind);
    for (const want of wanted) {
      const actual = actualByName.get(want.name);
      if (!actual) {
        findings.push({ kind, name: want.name, state: "missing", fields: [] });
        continue;
      }
      const fields = [
        ...ownedDifferences(
          { [tenantLabel.key]: tenantLabel.value },
          actual.metadata?.labels ?? {},
          "metadata.labels",
          [],
        ),
        ...ownedDifferences(want.spec, actual.spec, "spec", EXACT_MAPS[kind] ?? []),
      ];
      if (fields.length > 0) findings.push({ kind, name: want.name, state: "different", fields });
    }
    const wantedNames = new Set(wanted.map((w) => w.name));
    for (const actual of observed[kind]) {
      const name = actual.metadata?.name ?? "";
      if (!wantedNames.has(name) && actual.metadata?.labels?.[tenantLabel.key] === tenantLabel.value) {
        findings.push({ kind, name, state: "extra", fields: [] });
      }
    }
  }
  return findings.sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Paths under `path` where `actual` does not carry what `desired` says. */
export function ownedDifferences(
  desired: unknown,
  actual: unknown,
  path: string,
  exactMaps: readonly string[],
): string[] {
  if (desired === undefined || desired === null) return [];
  if (isPlainObject(desired)) {
    if (!isPlainObject(actual)) return [path];
    const differences = Object.entries(desired).flatMap(([key, value]) =>
      ownedDifferences(value, actual[key], `${path}.${key}`, exactMaps),
    );
    if (exactMaps.includes(path)) {
      for (const key of Object.keys(actual)) if (!(key in desired)) differences.push(`${path}.${key}`);
    }
    return differences;
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(actual) || actual.length !== desired.length) return [path];
    return desired.flatMap((value, index) =>
      ownedDifferences(value, actual[index], `${path}[${index}]`, exactMaps),
    );
  }
  return sameScalar(desired, actual) ? [] : [path];
}

function sameScalar(desired: unknown, actual: unknown): boolean {
  if (desired === actual) return true;
  const quantityLike = (v: unknown) => typeof v === "string" || typeof v === "number";
  if (!quantityLike(desired) || !quantityLike(actual)) return false;
  if (String(desired) === String(actual)) return true;
  const a = parseQuantity(String(desired));
  const b = parseQuantity(String(actual));
  return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(a) * 1e-12;
}
