/**
 * Reads Kubernetes manifests from YAML as plain objects, exactly as written. Not client-node's loadAllYaml: that
 * deserializes into the typed model of each kind and so drops fields the model does not know, which would hide
 * the very mistakes (misspelled fields) the cluster tests exist to catch.
 */
import { readFileSync } from "node:fs";
import type { KubernetesObject } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";

export function parseManifests(text: string, source: string): KubernetesObject[] {
  const objects: KubernetesObject[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      throw new Error(`${source}: ${document.errors.map((e) => e.message).join("; ")}`);
    }
    const value: unknown = document.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== "object" || Array.isArray(value) || !("kind" in value) || !("apiVersion" in value)) {
      throw new Error(`${source}: a document that is not a Kubernetes object (no apiVersion/kind)`);
    }
    objects.push(value as KubernetesObject);
  }
  return objects;
}

export function readManifestFile(path: string): KubernetesObject[] {
  return parseManifests(readFileSync(path, "utf8"), path);
}
