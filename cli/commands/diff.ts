/**
 * `neurallog diff [--base REF] [--format text|markdown] [--tenants DIR]`: what the change since REF (default
 * HEAD: the uncommitted edits) does to the rendered manifests, per tenant, with dangerous changes flagged.
 * Exit 0: no change; 2: changes; 1: an error (invalid tenant files, unknown ref).
 */
import { formatDiagnostic } from "../../charts-src/model/diagnostic.ts";
import { BaseRefError } from "../../gitops/base-ref.ts";
import { formatMarkdown, formatText } from "../../gitops/diff-report.ts";
import { RenderCache } from "../../gitops/render-cache.ts";
import { diffTenantTree } from "../../gitops/tree-diff.ts";
import { parseFlags, UsageError } from "../args.ts";

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    base: { type: "string", default: "HEAD" },
    format: { type: "string", default: "text" },
    tenants: { type: "string", default: "tenants" },
  });
  if (values.format !== "text" && values.format !== "markdown") {
    throw new UsageError(`--format must be text or markdown, not "${values.format}"`);
  }
  const cache = new RenderCache();
  let diff;
  try {
    diff = await diffTenantTree(values.tenants, values.base, cache);
  } catch (error) {
    if (!(error instanceof BaseRefError)) throw error;
    console.error(`neurallog diff: ${error.message}`);
    return 1;
  }
  if (diff.diagnostics.length > 0) {
    for (const d of diff.diagnostics) console.error(formatDiagnostic(d));
    console.error("neurallog diff: fix the errors above (neurallog validate shows all of them)");
    return 1;
  }
  if (cache.writeError)
    console.error(`neurallog diff: warning: render cache not written (${cache.writeError.message})`);
  console.log(
    values.format === "markdown" ? formatMarkdown(diff, values.base) : formatText(diff, values.base),
  );
  return diff.sections.length === 0 ? 0 : 2;
}
