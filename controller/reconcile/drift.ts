/**
 * Spec drift: the ResourceQuotas, LimitRanges and NetworkPolicies of a tenant namespace against the desired ones
 * from the tenant ConfigMap. Only what we own is compared: the tenant label and the spec synth renders. The API
 * server fills defaults (protocol TCP, policyTypes, LimitRange default ← max) and other tools add labels and
 * annotations; none of that is drift. Quantities compare by value ("1Gi" = "1024Mi").
 *
 * Some absences are part of the desired state too: a `spec.hard` key nobody desired is an extra limit, a
 * NetworkPolicy without `ingress` denies all ingress (an added rule opens it), a quota without `scopes` counts
 * every pod (an added scope narrows it). Those extra fields are drift, and listed for removal.
 *
 * Every object of these kinds in the namespace that the desired state does not name is "extra", with or without
 * the tenant label (the informers watch these kinds unfiltered). Kubernetes creates none of them by itself.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { parseQuantity } from "../../contracts/quantity.ts";
import { DRIFT_KINDS, type DesiredObject, type DriftKind } from "./desired-state.ts";

export type DriftState = "missing" | "extra" | "different";

export interface DriftFinding {
  readonly kind: DriftKind;
  readonly name: string;
  readonly state: DriftState;
  /** For "different": the owned fields that differ, as paths (`spec.hard.pods`). */
  readonly fields: readonly string[];
  /** Fields present in the cluster that the desired state does not have, as path segments (for removal). */
  readonly extraFields: readonly (readonly string[])[];
}

/** An object of a drift kind in the cluster, as the cache holds it (read-only). */
export type ObservedObject = KubernetesObject & { readonly spec?: unknown };

/** Maps whose keys are all ours: a key in the cluster but not desired is drift. */
const EXACT_MAPS: Readonly<Partial<Record<DriftKind, readonly string[]>>> = {
  ResourceQuota: ["spec.hard"],
};

/** Spec fields whose absence is meaningful: present in the cluster but not desired is drift. */
const OWNED_WHEN_ABSENT: Readonly<Partial<Record<DriftKind, readonly string[]>>> = {
  ResourceQuota: ["scopes", "scopeSelector"],
  NetworkPolicy: ["ingress", "egress"],
};

interface Difference {
  readonly segments: readonly string[];
  /** True when the field exists only in the cluster. */
  readonly extra: boolean;
}

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
        findings.push({ kind, name: want.name, state: "missing", fields: [], extraFields: [] });
        continue;
      }
      const differences = [
        ...ownedDifferences({ [tenantLabel.key]: tenantLabel.value }, actual.metadata?.labels ?? {}, [
          "metadata",
          "labels",
        ]),
        ...ownedDifferences(want.spec, actual.spec, ["spec"], EXACT_MAPS[kind] ?? []),
        ...absentFieldsPresent(kind, want.spec, actual.spec),
      ];
      if (differences.length > 0) {
        findings.push({
          kind,
          name: want.name,
          state: "different",
          fields: differences.map((d) => formatPath(d.segments)),
          extraFields: differences.filter((d) => d.extra).map((d) => d.segments),
        });
      }
    }
    const wantedNames = new Set(wanted.map((w) => w.name));
    for (const actual of observed[kind]) {
      const name = actual.metadata?.name ?? "";
      // Any object of these kinds in a tenant namespace that git does not define is an extra, labelled or not: a
      // hand-applied allow-all NetworkPolicy carries no tenant label, and it opens the namespace all the same.
      if (!wantedNames.has(name)) {
        findings.push({ kind, name, state: "extra", fields: [], extraFields: [] });
      }
    }
  }
  return findings.sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  return isPlainObject(value) && Object.keys(value).length === 0;
}

/** `spec.ingress`, `spec.egress[0].ports[0].port`, `metadata.labels.neurallog.io/tenant`. */
export function formatPath(segments: readonly string[]): string {
  return segments.reduce((path, segment) =>
    /^\d+$/.test(segment) ? `${path}[${segment}]` : `${path}.${segment}`,
  );
}

function absentFieldsPresent(kind: DriftKind, desired: unknown, actual: unknown): Difference[] {
  if (!isPlainObject(actual)) return [];
  const wanted = isPlainObject(desired) ? desired : {};
  return (OWNED_WHEN_ABSENT[kind] ?? [])
    .filter((key) => wanted[key] === undefined && !isEmpty(actual[key]))
    .map((key) => ({ segments: ["spec", key], extra: true }));
}

/** Where `actual` does not carry what `desired` says, under `path`. */
function ownedDifferences(
  desired: unknown,
  actual: unknown,
  path: readonly string[],
  exactMaps: readonly string[] = [],
): Difference[] {
  if (desired === undefined || desired === null) return [];
  if (isPlainObject(desired)) {
    if (!isPlainObject(actual)) return [{ segments: path, extra: false }];
    const differences = Object.entries(desired).flatMap(([key, value]) =>
      ownedDifferences(value, actual[key], [...path, key], exactMaps),
    );
    if (exactMaps.includes(path.join("."))) {
      for (const key of Object.keys(actual)) {
        if (!(key in desired)) differences.push({ segments: [...path, key], extra: true });
      }
    }
    return differences;
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(actual) || actual.length !== desired.length) return [{ segments: path, extra: false }];
    return desired.flatMap((value, index) =>
      ownedDifferences(value, actual[index], [...path, String(index)], exactMaps),
    );
  }
  return sameScalar(desired, actual) ? [] : [{ segments: path, extra: false }];
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
