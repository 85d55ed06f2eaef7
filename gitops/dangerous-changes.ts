/**
 * Changes to a tenant's rendered objects that lose data or isolation, flagged in `neurallog diff` so that a
 * reviewer cannot miss them: a Namespace or a volume leaving git, a volume shrinking, a quota cut below what
 * the tenant's own workloads request, a NetworkPolicy newly letting other tenants (or the whole internet) in,
 * a tenant moving to another namespace (its objects and data stay behind; the new one may be someone else's).
 */
import {
  formatFootprintLine,
  workloadFootprint,
  type FootprintKey,
} from "../contracts/workload-footprint.ts";
import { parseQuantity } from "../contracts/quantity.ts";
import type { ResolvedTenant } from "../contracts/resolved-tenant.ts";

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
  };
  readonly spec?: Record<string, unknown>;
}

export const DANGER_KINDS = [
  "namespace-deletion",
  "volume-deletion",
  "storage-shrink",
  "quota-below-requests",
  "network-opened",
  "namespace-change",
] as const;
export type DangerKind = (typeof DANGER_KINDS)[number];

export interface Danger {
  readonly kind: DangerKind;
  /** `Kind namespace/name` of the object concerned. */
  readonly object: string;
  readonly message: string;
}

export interface TenantObjects {
  /** Objects by file path; the path is the object's identity (`<kind>-<name>.yaml`). */
  readonly base: ReadonlyMap<string, KubeObject>;
  readonly head: ReadonlyMap<string, KubeObject>;
  /** The tenant's resolved spec at head, for the workload footprint; absent when the tenant was removed. */
  readonly headTenant?: ResolvedTenant;
  /** Namespaces of the other tenants at head (a selector naming one opens the door to it). */
  readonly otherNamespaces: ReadonlySet<string>;
}

export function describeObject(o: KubeObject): string {
  const ns = o.metadata?.namespace ? `${o.metadata.namespace}/` : "";
  return `${o.kind ?? "?"} ${ns}${o.metadata?.name ?? "?"}`;
}

const pvcStorage = (spec: unknown): string | undefined =>
  (spec as { resources?: { requests?: { storage?: string } } } | undefined)?.resources?.requests?.storage;

interface ClaimTemplate {
  readonly metadata?: { readonly name?: string };
  readonly spec?: unknown;
}

function claimTemplates(o: KubeObject | undefined): Map<string, string | undefined> {
  const templates = (o?.spec?.volumeClaimTemplates ?? []) as readonly ClaimTemplate[];
  return new Map(templates.map((t) => [t.metadata?.name ?? "?", pvcStorage(t.spec)]));
}

function shrinks(before: string | undefined, after: string | undefined): boolean {
  if (before === undefined || after === undefined) return false;
  const a = parseQuantity(before);
  const b = parseQuantity(after);
  return a !== undefined && b !== undefined && b < a;
}

export function findDangers(objects: TenantObjects): Danger[] {
  const dangers: Danger[] = [];
  const { base, head } = objects;
  for (const [path, before] of base) {
    const after = head.get(path);
    const object = describeObject(before);
    if (!after) {
      if (before.kind === "Namespace") {
        dangers.push({
          kind: "namespace-deletion",
          object,
          message: `${object} leaves git: Argo CD no longer manages it or anything in it (its objects and data are kept, not deleted)`,
        });
      } else if (before.kind === "PersistentVolumeClaim") {
        dangers.push({
          kind: "volume-deletion",
          object,
          message: `${object} leaves git: its volume is no longer managed`,
        });
      } else if (before.kind === "StatefulSet" && claimTemplates(before).size > 0) {
        dangers.push({
          kind: "volume-deletion",
          object,
          message: `${object} leaves git with its volume claims (${[...claimTemplates(before).keys()].join(", ")})`,
        });
      }
      continue;
    }
    if (before.kind === "PersistentVolumeClaim" && shrinks(pvcStorage(before.spec), pvcStorage(after.spec))) {
      dangers.push({
        kind: "storage-shrink",
        object,
        message: `${object} storage shrinks ${pvcStorage(before.spec)} → ${pvcStorage(after.spec)}: volumes cannot shrink; the sync fails or data must move`,
      });
    }
    if (before.kind === "StatefulSet") {
      const afterTemplates = claimTemplates(after);
      for (const [claim, size] of claimTemplates(before)) {
        if (!afterTemplates.has(claim)) {
          dangers.push({
            kind: "volume-deletion",
            object,
            message: `${object} drops its volume claim ${claim}`,
          });
        } else if (shrinks(size, afterTemplates.get(claim))) {
          dangers.push({
            kind: "storage-shrink",
            object,
            message: `${object} volume claim ${claim} shrinks ${size} → ${afterTemplates.get(claim)}: claim templates are immutable and volumes cannot shrink`,
          });
        }
      }
    }
    if (before.kind === "ResourceQuota") dangers.push(...quotaCuts(before, after, objects.headTenant));
  }
  dangers.push(...namespaceChanges(base, head));
  for (const [path, after] of head) {
    if (after.kind === "NetworkPolicy") dangers.push(...networkOpenings(base.get(path), after, objects));
  }
  return dangers;
}

/**
 * The tenant renders into other namespaces than before. Flagged on its own (besides the old Namespace leaving git)
 * because the new namespace is what a hostile pull request aims at: validate refuses what lacks the platform prefix,
 * and a reviewer must still see a move between tenant namespaces.
 */
function namespaceChanges(
  base: ReadonlyMap<string, KubeObject>,
  head: ReadonlyMap<string, KubeObject>,
): Danger[] {
  const names = (objects: ReadonlyMap<string, KubeObject>) =>
    [...objects.values()]
      .filter((o) => o.kind === "Namespace" && o.metadata?.name !== undefined)
      .map((o) => o.metadata!.name!)
      .sort();
  const before = names(base);
  const after = names(head);
  if (before.length === 0 || after.length === 0 || before.join() === after.join()) return [];
  const object = after.map((n) => `Namespace ${n}`).join(", ");
  return [
    {
      kind: "namespace-change",
      object,
      message: `tenant namespace changes ${before.join(", ")} → ${after.join(", ")}: everything is rendered into the new namespace, the old one and its data are left behind`,
    },
  ];
}

/** A quota key cut below the footprint of the tenant's own workloads at full scale: pods stop being created. */
function quotaCuts(before: KubeObject, after: KubeObject, tenant: ResolvedTenant | undefined): Danger[] {
  if (!tenant) return [];
  const footprint = workloadFootprint(tenant);
  const hard = (o: KubeObject) => (o.spec?.hard ?? {}) as Record<string, string>;
  const dangers: Danger[] = [];
  for (const [key, value] of Object.entries(hard(after))) {
    const previous = hard(before)[key];
    const line = footprint.lines[key as FootprintKey];
    if (previous === undefined || line === undefined || !shrinks(previous, value)) continue;
    if ((parseQuantity(value) ?? 0) < line.total) {
      dangers.push({
        kind: "quota-below-requests",
        object: describeObject(after),
        message: `${describeObject(after)} ${key} cut ${previous} → ${value}, below what the tenant's workloads request at full scale: ${formatFootprintLine(line)}`,
      });
    }
  }
  return dangers;
}

interface Peer {
  readonly namespaceSelector?: {
    readonly matchLabels?: Record<string, string>;
    readonly matchExpressions?: unknown[];
  };
  readonly podSelector?: unknown;
  readonly ipBlock?: { readonly cidr?: string };
}

const EVERY_ADDRESS = new Set(["0.0.0.0/0", "::/0"]);

/** Labels that identify one tenant's namespace (a selector on them picks that tenant, not all). */
const TENANT_IDENTITY_LABELS = [
  "neurallog.io/tenant",
  "app.kubernetes.io/instance",
  "kubernetes.io/metadata.name",
];

/** Why PEER lets other tenants in, or undefined when it does not. */
function peerOpening(
  peer: Peer,
  own: KubeObject | undefined,
  objects: TenantObjects,
  namespace: string,
): string | undefined {
  if (peer.ipBlock?.cidr && EVERY_ADDRESS.has(peer.ipBlock.cidr)) {
    return `ingress from ${peer.ipBlock.cidr} (every address, other tenants' pods included)`;
  }
  const selector = peer.namespaceSelector;
  if (!selector) return undefined;
  const labels = Object.entries(selector.matchLabels ?? {});
  if (labels.length === 0 && (selector.matchExpressions ?? []).length === 0) {
    return "ingress from namespaceSelector {} (every namespace, other tenants included)";
  }
  // matchExpressions alone: the tenant schema cannot produce them; nothing to judge.
  if (labels.length === 0) return undefined;
  const named = selector.matchLabels?.["kubernetes.io/metadata.name"];
  if (named !== undefined && named !== namespace && objects.otherNamespaces.has(named)) {
    return `ingress from the namespace of another tenant (${named})`;
  }
  const tenant = selector.matchLabels?.["neurallog.io/tenant"];
  const ownTenant = own?.metadata?.labels?.["neurallog.io/tenant"];
  if (tenant !== undefined && tenant !== ownTenant) return `ingress from the namespaces of tenant ${tenant}`;
  // Only labels every tenant namespace carries (part-of, managed-by, Pod Security ...): matches them all.
  const ownLabels = own?.metadata?.labels ?? {};
  const shared = labels.every(
    ([k, v]) =>
      !TENANT_IDENTITY_LABELS.includes(k) && ownLabels[k] === v && !(k in (objects.headTenant?.labels ?? {})),
  );
  if (shared)
    return `ingress from namespaces labelled ${labels.map(([k, v]) => `${k}=${v}`).join(",")} (every tenant namespace carries them)`;
  return undefined;
}

function networkOpenings(
  before: KubeObject | undefined,
  after: KubeObject,
  objects: TenantObjects,
): Danger[] {
  const peersOf = (o: KubeObject | undefined) =>
    ((o?.spec?.ingress ?? []) as { from?: Peer[] }[]).flatMap((rule) => rule.from ?? []);
  const previous = new Set(peersOf(before).map((p) => JSON.stringify(p)));
  const namespace = after.metadata?.namespace ?? "";
  const ownNamespace = [...objects.head.values()].find((o) => o.kind === "Namespace");
  const dangers: Danger[] = [];
  for (const peer of peersOf(after)) {
    if (previous.has(JSON.stringify(peer))) continue;
    const why = peerOpening(peer, ownNamespace, objects, namespace);
    if (why)
      dangers.push({
        kind: "network-opened",
        object: describeObject(after),
        message: `${describeObject(after)} newly allows ${why}`,
      });
  }
  return dangers;
}
