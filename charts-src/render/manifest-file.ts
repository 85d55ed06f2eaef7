/** One Kubernetes object → one YAML file named `<kind>-<name>.yaml` (lowercase). */
import { manifestYaml } from "./manifest-yaml.ts";

export interface ManifestFile {
  /** File name inside its folder, e.g. `deployment-acme-server.yaml`. */
  readonly name: string;
  readonly content: string;
}

interface KubeObject {
  readonly kind?: unknown;
  readonly metadata?: { readonly name?: unknown };
}

export function manifestFileName(object: KubeObject): string {
  const kind = object.kind;
  const name = object.metadata?.name;
  if (typeof kind !== "string" || typeof name !== "string") {
    throw new Error(`rendered object without kind or metadata.name: ${JSON.stringify(object).slice(0, 200)}`);
  }
  return `${kind}-${name}.yaml`.toLowerCase();
}

export function toManifestFiles(objects: readonly KubeObject[]): ManifestFile[] {
  const files = objects.map((object) => ({
    name: manifestFileName(object),
    content: manifestYaml(object as Record<string, unknown>),
  }));
  const seen = new Set<string>();
  for (const file of files) {
    // Two objects in one file name would silently overwrite each other.
    if (seen.has(file.name)) throw new Error(`two rendered objects map to the same file ${file.name}`);
    seen.add(file.name);
  }
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
