/**
 * `neurallog validate [--tenants DIR]`: every schema and semantic problem of the tenant directory, one per line
 * as `FILE:LINE:COL: message` on stdout (sorted), a summary on stderr; exit 1 when any is an error.
 */
import { formatDiagnostic } from "../../charts-src/model/diagnostic.ts";
import { loadTenantTree } from "../../charts-src/model/load.ts";
import { parseFlags } from "../args.ts";

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { tenants: { type: "string", default: "tenants" } });
  const result = await loadTenantTree(values.tenants);
  for (const diagnostic of result.diagnostics) console.log(formatDiagnostic(diagnostic));

  const errors = result.diagnostics.filter((d) => d.severity === "error");
  const warnings = result.diagnostics.length - errors.length;
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
