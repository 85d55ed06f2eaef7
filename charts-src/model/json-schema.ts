/**
 * The published JSON Schemas (`schemas/*.schema.json`), generated from the TypeBox schema in
 * `tenant-schema.ts`, so editors (`# yaml-language-server: $schema=...`) check exactly what `validate` checks
 * at the schema level. `npm run schemas` writes them; a test fails when the committed files are stale.
 */
import { Platform, Tenant } from "./tenant-schema.ts";

export const JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema";
const ID_BASE = "https://neurallog.io/schemas/v1alpha1";

export interface PublishedSchema {
  /** File name under `schemas/`. */
  readonly file: string;
  readonly schema: Record<string, unknown>;
}

export function publishedSchemas(): PublishedSchema[] {
  return [
    {
      file: "tenant.schema.json",
      schema: withHeader(
        Tenant,
        "tenant.schema.json",
        "A NeuralLog tenant: tenants/<name>.yaml. Omitted fields come from the plan (platform file), then built-in defaults. Secrets are referenced by name, never written here.",
      ),
    },
    {
      file: "platform.schema.json",
      schema: withHeader(
        Platform,
        "platform.schema.json",
        "Platform-wide defaults for every NeuralLog tenant: tenants/_platform.yaml (pinned images, domains, classes, plans).",
      ),
    },
  ];
}

function withHeader(schema: object, file: string, description: string): Record<string, unknown> {
  // JSON.parse(JSON.stringify()) drops TypeBox's non-enumerable markers and gives a plain, stable object.
  const { title, ...plain } = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  return { $schema: JSON_SCHEMA_DIALECT, $id: `${ID_BASE}/${file}`, title, description, ...plain };
}
