/**
 * `neurallog validate [--tenants DIR]`: every schema and semantic problem of the tenant directory, one per line
 * as `FILE:LINE:COL: message` on stdout (sorted), a summary on stderr; exit 1 when any is an error.
 */
import { compareDiagnostics, formatDiagnostic } from "../../charts-src/model/diagnostic.ts";
import { loadTenantTree } from "../../charts-src/model/load.ts";
import { BaseRefError } from "../../gitops/base-ref.ts";
import { checkRemovedTenants } from "../../gitops/decommission-guard.ts";
import { parseFlags } from "../args.ts";

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    tenants: { type: "string", default: "tenants" },
    // --base REF: also refuse tenant files removed since REF without `decommission: true` there first.
    base: { type: "string" },
  });
  const result = await loadTenantTree(values.tenants);
  let diagnostics = result.diagnostics;
  if (values.base !== undefined) {
    try {
      const removed = await checkRemovedTenants(values.base, values.tenants);
      diagnostics = [...diagnostics, ...removed].sort(compareDiagnostics);
    } catch (error) {
      if (!(error instanceof BaseRefError)) throw error;
      console.error(`neurallog validate: ${error.message}`);
      return 1;
    }
  }
  for (const diagnostic of diagnostics) console.log(formatDiagnostic(diagnostic));

  const errors = diagnostics.filter((d) => d.severity === "error");
  const warnings = diagnostics.length - errors.length;
  const warningNote = warnings > 0 ? `, ${warnings} warning${warnings === 1 ? "" : "s"}` : "";
  // README.md is expected next to the tenant files; anything else skipped is worth a mention.
  const stray = result.skipped.filter((name) => name !== "README.md");
  const strayNote = stray.length > 0 ? ` (skipped, not tenant files: ${stray.join(", ")})` : "";
  if (errors.length > 0) {
    const files = new Set(errors.map((d) => d.file)).size;
    console.error(
      `neurallog validate: ${errors.length} error${errors.length === 1 ? "" : "s"} in ${files} file${files === 1 ? "" : "s"}${warningNote}${strayNote}`,
    );
    return 1;
  }
  const count = result.tenants.length;
  console.error(`ok: ${count} tenant${count === 1 ? "" : "s"} valid${warningNote}${strayNote}`);
  return 0;
}
