/**
 * `neurallog synth [--tenants DIR] [--out DIR]`: validates the tenant directory and, only when it has no
 * errors, renders `OUT/tenants/<name>/`, `OUT/argocd/` and `OUT/platform/` (one file per object), removing the
 * folders of tenants that no longer exist. With any error nothing is rendered or removed.
 */
import { readdir } from "node:fs/promises";
import { resolve } from "node:path";
import { formatDiagnostic, loadTenantTree, validTree } from "../../charts-src/model/load.ts";
import { RenderPool, renderThreads } from "../../charts-src/render/render-pool.ts";
import { SynthError, synthesize, TENANTS_FOLDER } from "../../charts-src/render/synthesize.ts";
import { parseFlags, UsageError } from "../args.ts";

const USAGE =
  "usage: neurallog synth [--tenants DIR] [--out DIR]\n" +
  "  --tenants  tenant files and _platform.yaml (default tenants)\n" +
  "  --out      output folder: OUT/tenants/<name>/, OUT/argocd/, OUT/platform/ (default dist)\n" +
  "Validates first; renders nothing while any error remains. Removes the folders of tenants that are gone.";

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    tenants: { type: "string", default: "tenants" },
    out: { type: "string", default: "dist" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const tenantsDir = values.tenants;
  const outDir = values.out;
  // Synth removes stale folders under OUT/tenants/: never let that be the tenant sources themselves.
  if (resolve(outDir, TENANTS_FOLDER) === resolve(tenantsDir) || resolve(outDir) === resolve(tenantsDir)) {
    throw new UsageError(`--out ${outDir} would overwrite the tenant files in ${tenantsDir}`);
  }

  // Render threads start first, so they load cdk8s while this thread loads and validates the tenant files.
  const threads = renderThreads(await countTenantFiles(tenantsDir));
  const pool = threads > 0 ? new RenderPool(threads) : undefined;
  try {
    return await validateAndRender(tenantsDir, outDir, pool);
  } finally {
    await pool?.close();
  }
}

/** About how many tenants DIR holds (its YAML files; 0 when it cannot be read: loading will say why). */
async function countTenantFiles(dir: string): Promise<number> {
  try {
    return (await readdir(dir)).filter((name) => /\.ya?ml$/.test(name)).length;
  } catch {
    return 0;
  }
}

async function validateAndRender(
  tenantsDir: string,
  outDir: string,
  pool: RenderPool | undefined,
): Promise<number> {
  const loaded = await loadTenantTree(tenantsDir);
  for (const diagnostic of loaded.diagnostics) console.error(formatDiagnostic(diagnostic));
  const tree = validTree(loaded);
  if (!tree) {
    console.error(
      "neurallog synth: nothing rendered; fix the errors above (neurallog validate shows them too)",
    );
    return 1;
  }

  const started = performance.now();
  let result;
  try {
    result = await synthesize(tree, outDir, { pool });
  } catch (error) {
    if (error instanceof SynthError) console.error(`neurallog synth: nothing rendered:\n${error.message}`);
    else {
      // A file system problem (permissions, a full disk): say which, without a stack trace.
      const cause =
        (error as Error).cause instanceof Error ? `: ${((error as Error).cause as Error).message}` : "";
      console.error(`neurallog synth: ${(error as Error).message}${cause}`);
    }
    return 1;
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  for (const name of result.removedTenants)
    console.log(`removed ${outDir}/${TENANTS_FOLDER}/${name} (no tenant file)`);
  console.log(
    `synth: ${result.tenants} tenants, ${result.files} files (${result.written} written) in ${outDir} (${seconds} s)`,
  );
  return 0;
}
