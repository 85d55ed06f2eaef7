/**
 * A tenant directory as bytes: the platform file and one file per tenant, read without parsing. Render-cache
 * keys are computed from these bytes, so telling which tenants changed between two trees costs a read and a
 * hash per file, not a validation.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

export interface TenantSourceFile {
  /** The tenant name: the file name without `.yaml` (the loader insists they agree). */
  readonly name: string;
  readonly fileName: string;
  readonly bytes: Buffer;
}

export interface TreeSource {
  readonly dir: string;
  /** The platform file's bytes; undefined when it is missing (the loader reports that). */
  readonly platform?: Buffer;
  readonly tenants: ReadonlyMap<string, TenantSourceFile>;
}

/**
 * The loader's platform file name. Not imported from `load.ts`: importing the loader costs about a second
 * (schema compilation), which a warm `diff` never needs. A test holds the two equal.
 */
export const PLATFORM_FILE = "_platform.yaml";

/** The same selection as the loader: YAML files, no dotfiles, not the platform file. */
const TENANT_FILE = /^[^.].*\.ya?ml$/i;

/** The tenant name of a file of the tenant directory, or undefined when it is not a tenant file. */
export function tenantNameOf(fileName: string): string | undefined {
  if (fileName === PLATFORM_FILE || !TENANT_FILE.test(fileName)) return undefined;
  return fileName.replace(/\.ya?ml$/i, "");
}

export async function readTreeSource(dir: string): Promise<TreeSource> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: unknown) => {
    throw new Error(`cannot read the tenant directory ${dir}`, { cause: error });
  });
  const tenants = new Map<string, TenantSourceFile>();
  let platform: Buffer | undefined;
  await Promise.all(
    entries.map(async (entry) => {
      if (!entry.isFile()) return;
      const name = tenantNameOf(entry.name);
      if (entry.name === PLATFORM_FILE) platform = await readFile(path.join(dir, entry.name));
      else if (name !== undefined) {
        tenants.set(name, { name, fileName: entry.name, bytes: await readFile(path.join(dir, entry.name)) });
      }
    }),
  );
  return {
    dir,
    ...(platform ? { platform } : {}),
    tenants: new Map([...tenants].sort(([a], [b]) => (a < b ? -1 : 1))),
  };
}
