/**
 * Decommissioning is two-step: first a change that sets `spec.decommission: true` (the server scales to zero,
 * a final backup runs, data is kept), then a later change that removes the file. This guard checks the second
 * step against a base ref: a tenant file that is gone now but was not marked `decommission: true` at the base
 * is refused, with a diagnostic on that file.
 */
import { access } from "node:fs/promises";
import path from "node:path";
import { parse } from "yaml";
import type { Diagnostic } from "../charts-src/index.ts";
import { filesAtRef, readBlobs, tenantDirAtRef } from "./base-ref.ts";
import { tenantNameOf } from "./tenant-source.ts";

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Was the tenant file text marked for decommissioning? Unparsable text counts as not marked. */
function markedForDecommission(text: string): boolean {
  try {
    const doc = parse(text) as { spec?: { decommission?: unknown } } | null;
    return doc?.spec?.decommission === true;
  } catch {
    return false;
  }
}

export async function checkRemovedTenants(baseRef: string, tenantsDir: string): Promise<Diagnostic[]> {
  const at = await tenantDirAtRef(tenantsDir, baseRef);
  const removed: [fileName: string, blob: string][] = [];
  for (const [fileName, blob] of await filesAtRef(at)) {
    if (tenantNameOf(fileName) === undefined) continue;
    if (!(await exists(path.join(tenantsDir, fileName)))) removed.push([fileName, blob]);
  }
  const texts = await readBlobs(
    at,
    removed.map(([, blob]) => blob),
  );
  const diagnostics: Diagnostic[] = [];
  for (const [fileName, blob] of removed) {
    if (markedForDecommission(texts.get(blob)!.toString("utf8"))) continue;
    const file = path.join(tenantsDir, fileName);
    const name = tenantNameOf(fileName)!;
    diagnostics.push({
      file,
      line: 1,
      column: 1,
      severity: "error",
      message:
        `tenant ${name} removed without being decommissioned first: at ${baseRef} it does not have ` +
        `spec.decommission: true. Restore the file, set decommission: true, merge, let the final backup run, ` +
        `then remove it (docs/runbooks/decommission.md)`,
    });
  }
  return diagnostics;
}
