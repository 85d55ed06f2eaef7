/**
 * What a change does to one tenant's rendered objects (or to the platform's): objects added, removed and
 * changed, each change as a unified diff of the object's YAML, plus the dangerous changes among them.
 */
import { structuredPatch } from "diff";
import { parse } from "yaml";
import type { ResolvedTenant } from "../contracts/resolved-tenant.ts";
import { describeObject, findDangers, type Danger, type KubeObject } from "./dangerous-changes.ts";
import type { RenderedFile } from "./render-cache.ts";

export type Change = "added" | "removed" | "changed";

export interface ResourceChange {
  readonly path: string;
  /** `Kind namespace/name`. */
  readonly object: string;
  readonly change: Change;
  /** Unified-diff lines of the YAML (`@@` headers, ` `, `-`, `+`), for changed objects. */
  readonly patch?: readonly string[];
}

export interface SectionDiff {
  /** A tenant name, or `PLATFORM_SECTION` for `platform/` and the shared Argo CD objects. */
  readonly name: string;
  readonly status: Change;
  readonly resources: readonly ResourceChange[];
  readonly dangers: readonly Danger[];
}

export const PLATFORM_SECTION = "(platform)";

const CONTEXT_LINES = 3;

function parseObject(file: RenderedFile): KubeObject {
  try {
    return (parse(file.content) ?? {}) as KubeObject;
  } catch (error) {
    throw new Error(`rendered file ${file.path} does not parse`, { cause: error });
  }
}

function yamlPatch(path: string, before: string, after: string): string[] {
  const patch = structuredPatch(path, path, before, after, "", "", { context: CONTEXT_LINES });
  return patch.hunks.flatMap((h) => [
    `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`,
    ...h.lines.filter((l) => !l.startsWith("\\")),
  ]);
}

export interface SectionContext {
  readonly headTenant?: ResolvedTenant;
  readonly otherNamespaces: ReadonlySet<string>;
}

/** The diff of one section; undefined when base and head render the same bytes. */
export function diffSection(
  name: string,
  base: readonly RenderedFile[] | undefined,
  head: readonly RenderedFile[] | undefined,
  context: SectionContext,
): SectionDiff | undefined {
  const before = new Map((base ?? []).map((f) => [f.path, f]));
  const after = new Map((head ?? []).map((f) => [f.path, f]));
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
  const resources: ResourceChange[] = [];
  const baseObjects = new Map<string, KubeObject>();
  const headObjects = new Map<string, KubeObject>();
  for (const path of paths) {
    const b = before.get(path);
    const a = after.get(path);
    if (b) baseObjects.set(path, parseObject(b));
    if (a) headObjects.set(path, parseObject(a));
    if (b && a && b.content === a.content) continue;
    const object = describeObject((a ? headObjects : baseObjects).get(path)!);
    if (!b) resources.push({ path, object, change: "added" });
    else if (!a) resources.push({ path, object, change: "removed" });
    else resources.push({ path, object, change: "changed", patch: yamlPatch(path, b.content, a.content) });
  }
  if (resources.length === 0) return undefined;
  const dangers = findDangers({ base: baseObjects, head: headObjects, ...context });
  const status: Change = base === undefined ? "added" : head === undefined ? "removed" : "changed";
  return { name, status, resources, dangers };
}
