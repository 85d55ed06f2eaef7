/**
 * Loads a tenant directory: `_platform.yaml` (kind Platform) plus one `<name>.yaml` per tenant. Every problem —
 * YAML syntax, schema, semantic — comes back as a positioned diagnostic; nothing throws for bad input. Only
 * files without errors are resolved, and callers publish nothing while any error remains.
 */
import { constants } from "node:fs";
import { open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { checkPlatform } from "./checks/platform-checks.ts";
import { ruleDiagnostics } from "./checks/rule-checks.ts";
import { secretDiagnostics } from "./checks/secret-scan.ts";
import { checkTenant } from "./checks/tenant-checks.ts";
import { checkTree } from "./checks/tree-checks.ts";
import { compareDiagnostics, hasErrors, type Diagnostic } from "./diagnostic.ts";
import { resolvePlatform, type SynthTenant } from "./resolve.ts";
import { validateSchema } from "./schema-validation.ts";
import type { PlatformFile, TenantFile } from "./tenant-schema.ts";
import type { ResolvedPlatform } from "../../contracts/resolved-tenant.ts";
import type { LoadedPlatform, LoadedTenant, LoadResult } from "./loaded-tree.ts";
import { parseYamlSource, type YamlSource } from "./yaml-source.ts";

export type { Diagnostic } from "./diagnostic.ts";
export { formatDiagnostic } from "./diagnostic.ts";

export const PLATFORM_FILE = "_platform.yaml";
/** Bigger than any sane tenant file; keeps a stray dump from eating memory. */
const MAX_FILE_BYTES = 1024 * 1024;

const YAML_FILE = /\.ya?ml$/i;

export async function loadTenantTree(dir: string): Promise<LoadResult> {
  const diagnostics: Diagnostic[] = [];
  let entries: { name: string; isDirectory(): boolean }[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    diagnostics.push(fileProblem(dir, `cannot read the tenant directory (${reason})`));
    return { tenants: [], diagnostics, skipped: [] };
  }
  const skipped: string[] = [];
  const tenantNames: string[] = [];
  for (const entry of entries) {
    if (entry.name === PLATFORM_FILE) continue;
    if (entry.name.startsWith(".") || !YAML_FILE.test(entry.name)) skipped.push(entry.name);
    else if (entry.isDirectory()) skipped.push(entry.name);
    // Anything else named like a tenant file goes to parseFile, which refuses what is not a regular file.
    else tenantNames.push(entry.name);
  }
  skipped.sort();
  tenantNames.sort();

  const platform = await loadPlatform(
    dir,
    entries.some((e) => e.name === PLATFORM_FILE),
    diagnostics,
  );
  const tenants: LoadedTenant[] = [];
  const treeMembers: LoadedTenant[] = [];
  for (const name of tenantNames) {
    const file = join(dir, name);
    const parsed = await parseFile(file, diagnostics);
    if (!parsed) continue;
    const schema = validateSchema(parsed, "Tenant");
    diagnostics.push(...schema.diagnostics);
    if (schema.conforming === undefined) continue;
    const value = schema.conforming as TenantFile;
    const checked = checkTenant(parsed, value, name, platform);
    diagnostics.push(...checked.diagnostics);
    diagnostics.push(
      ...(await ruleDiagnostics(parsed, value.spec.server?.rules ?? [], ["spec", "server", "rules"])),
    );
    const loaded = {
      file,
      value,
      source: parsed,
      ...(checked.resolved ? { resolved: checked.resolved } : {}),
    };
    // Every file with a usable name takes part in the cross-tenant checks (one run shows a host clash next to
    // a typo); only files that conform as written are returned for rendering.
    treeMembers.push(loaded);
    if (schema.diagnostics.length === 0) tenants.push(loaded);
  }
  tenants.sort((a, b) => (a.value.metadata.name < b.value.metadata.name ? -1 : 1));
  diagnostics.push(...checkTree(treeMembers, platform));

  const erroneous = new Set(diagnostics.filter((d) => d.severity === "error").map((d) => d.file));
  const resolvedTenants = tenants.map((tenant) => {
    if (!erroneous.has(tenant.file)) return tenant;
    const { resolved: _dropped, ...withoutResolved } = tenant;
    return withoutResolved;
  });
  diagnostics.sort(compareDiagnostics);
  return { ...(platform ? { platform } : {}), tenants: resolvedTenants, diagnostics, skipped };
}

/** The resolved tree when it is free of errors (what synth renders), otherwise `undefined`. */
export function validTree(
  result: LoadResult,
): { platform: ResolvedPlatform; tenants: SynthTenant[] } | undefined {
  if (hasErrors(result.diagnostics) || !result.platform) return undefined;
  const tenants = result.tenants.map((t) => t.resolved);
  if (tenants.some((t) => t === undefined)) return undefined;
  return { platform: result.platform.resolved, tenants: tenants as SynthTenant[] };
}

async function loadPlatform(
  dir: string,
  exists: boolean,
  diagnostics: Diagnostic[],
): Promise<LoadedPlatform | undefined> {
  const file = join(dir, PLATFORM_FILE);
  if (!exists) {
    diagnostics.push(
      fileProblem(file, "platform file missing: every tenant directory needs a _platform.yaml"),
    );
    return undefined;
  }
  const parsed = await parseFile(file, diagnostics);
  if (!parsed) return undefined;
  const schema = validateSchema(parsed, "Platform");
  diagnostics.push(...schema.diagnostics);
  if (schema.conforming === undefined) return undefined;
  const value = schema.conforming as PlatformFile;
  diagnostics.push(...checkPlatform(parsed, value));
  for (const [name, plan] of Object.entries(value.spec.plans)) {
    const base = ["spec", "plans", name, "server", "rules"];
    diagnostics.push(...(await ruleDiagnostics(parsed, plan.server?.rules ?? [], base)));
  }
  // Tenants are checked against a platform only when it conforms as written.
  if (schema.diagnostics.length > 0) return undefined;
  return { file, value, resolved: resolvePlatform(value), source: parsed };
}

async function parseFile(file: string, diagnostics: Diagnostic[]): Promise<YamlSource | undefined> {
  const text = await readRegularFile(file, diagnostics);
  if (text === undefined) return undefined;
  const { source, diagnostics: yamlProblems } = parseYamlSource(file, text);
  diagnostics.push(...yamlProblems);
  if (hasErrors(yamlProblems)) return undefined;
  if (source.value === null || source.value === undefined) {
    diagnostics.push(fileProblem(file, "the file is empty"));
    return undefined;
  }
  // Before the schema: a secret in a misspelt or misplaced field is still a secret in git.
  diagnostics.push(...secretDiagnostics(source));
  return source;
}

/**
 * Reads a file only when it is a regular file inside the tenant directory. A symlink is refused without following
 * it (O_NOFOLLOW, so even a link swapped in after readdir is never read: `leak.yaml -> /proc/self/environ` once
 * printed the CI environment); FIFOs and devices are refused after fstat on the opened descriptor (O_NONBLOCK keeps
 * a FIFO from hanging the open).
 */
async function readRegularFile(file: string, diagnostics: Diagnostic[]): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ELOOP") {
      diagnostics.push(
        fileProblem(file, "is a symbolic link: tenant files must be regular files (not read)"),
      );
    } else {
      diagnostics.push(fileProblem(file, `cannot read the file (${code ?? (error as Error).message})`));
    }
    return undefined;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      diagnostics.push(
        fileProblem(file, "is not a regular file: tenant files must be regular files (not read)"),
      );
      return undefined;
    }
    if (stats.size > MAX_FILE_BYTES) {
      diagnostics.push(fileProblem(file, `file is larger than ${MAX_FILE_BYTES} bytes`));
      return undefined;
    }
    return await handle.readFile("utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    diagnostics.push(fileProblem(file, `cannot read the file (${reason})`));
    return undefined;
  } finally {
    await handle.close();
  }
}

function fileProblem(file: string, message: string): Diagnostic {
  return { file, line: 1, column: 1, message, severity: "error" };
}
