/**
 * What loading a tenant directory gives (load.ts): the platform and tenant files with their source positions,
 * resolved where they have no errors. Apart from the loader so the checks it runs can name these shapes without
 * importing it back.
 */
import type { ResolvedPlatform } from "../../contracts/resolved-tenant.ts";
import type { Diagnostic } from "./diagnostic.ts";
import type { SynthTenant } from "./resolve.ts";
import type { PlatformFile, TenantFile } from "./tenant-schema.ts";
import type { YamlSource } from "./yaml-source.ts";

export interface LoadedPlatform {
  readonly file: string;
  readonly value: PlatformFile;
  readonly resolved: ResolvedPlatform;
  readonly source: YamlSource;
}

export interface LoadedTenant {
  readonly file: string;
  /** The file's content; it conforms to the schema (files that do not are reported, not listed). */
  readonly value: TenantFile;
  /** Present only when the tenant file has no errors (and the platform file conforms to its schema). */
  readonly resolved?: SynthTenant;
  readonly source: YamlSource;
}

export interface LoadResult {
  readonly platform?: LoadedPlatform;
  /** Sorted by tenant name. */
  readonly tenants: readonly LoadedTenant[];
  /** Sorted by file, line, column. */
  readonly diagnostics: readonly Diagnostic[];
  /** Directory entries that are not tenant files (dotfiles, non-YAML files, folders), for the curious. */
  readonly skipped: readonly string[];
}
