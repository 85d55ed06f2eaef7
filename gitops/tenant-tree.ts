/**
 * The GitOps commands' view of `neurallog validate`: the same loader and checks, reduced to what publish, diff
 * and tenant new need (the error lines, in `FILE:LINE:COL: message` form).
 */
import path from "node:path";
import { formatDiagnostic, loadTenantTree } from "../charts-src/index.ts";

/**
 * Validation errors of the tenant tree in DIR, formatted; only those of ONLY_FILE when given. Warnings do not
 * block anything and are left to `neurallog validate`.
 */
export async function validateTenantTree(dir: string, onlyFile?: string): Promise<string[]> {
  const tree = await loadTenantTree(dir);
  const only = onlyFile === undefined ? undefined : path.resolve(onlyFile);
  return tree.diagnostics
    .filter((d) => d.severity === "error" && (only === undefined || path.resolve(d.file) === only))
    .map(formatDiagnostic);
}
