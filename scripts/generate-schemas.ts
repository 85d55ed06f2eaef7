/**
 * `npm run schemas`: writes `schemas/*.schema.json` from the TypeBox tenant schema (formatted as Prettier
 * would, so `npm run format` leaves them alone), and the field reference `docs/tenant-reference.md`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { format, resolveConfig } from "prettier";
import { publishedSchemas } from "../charts-src/model/json-schema.ts";
import { referenceMarkdown } from "../charts-src/model/reference-doc.ts";

const outDir = join(import.meta.dirname, "..", "schemas");
await mkdir(outDir, { recursive: true });
for (const { file, schema } of publishedSchemas()) {
  const path = join(outDir, file);
  const options = (await resolveConfig(path)) ?? {};
  await writeFile(path, await format(JSON.stringify(schema), { ...options, filepath: path }));
  console.log(`wrote schemas/${file}`);
}

await writeFile(join(import.meta.dirname, "..", "docs", "tenant-reference.md"), referenceMarkdown());
console.log("wrote docs/tenant-reference.md");
