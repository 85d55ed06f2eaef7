/**
 * `npm run schemas`: writes `schemas/*.schema.json` from the TypeBox tenant schema (formatted as Prettier
 * would, so `npm run format` leaves them alone), and the field reference `docs/tenant-reference.md`.
 * `npm run schemas:check` (`--check`) writes nothing and exits 1 naming every committed file that is stale, so
 * `npm run check` catches a forgotten regeneration in seconds instead of in the test suite.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { format, resolveConfig } from "prettier";
import { publishedSchemas } from "../charts-src/model/json-schema.ts";
import { referenceMarkdown } from "../charts-src/model/reference-doc.ts";

const root = join(import.meta.dirname, "..");
const check = process.argv.includes("--check");

const outputs: { file: string; text: string }[] = [];
for (const { file, schema } of publishedSchemas()) {
  const path = join(root, "schemas", file);
  const options = (await resolveConfig(path)) ?? {};
  outputs.push({
    file: `schemas/${file}`,
    text: await format(JSON.stringify(schema), { ...options, filepath: path }),
  });
}
outputs.push({ file: "docs/tenant-reference.md", text: referenceMarkdown() });

if (check) {
  const stale: string[] = [];
  for (const { file, text } of outputs) {
    const committed = await readFile(join(root, file), "utf8").catch(() => undefined);
    if (committed !== text) stale.push(file);
  }
  if (stale.length > 0) {
    console.error(`stale (run \`npm run schemas\`): ${stale.join(", ")}`);
    process.exit(1);
  }
  console.log(`schemas: ${outputs.length} generated files current`);
} else {
  await mkdir(join(root, "schemas"), { recursive: true });
  for (const { file, text } of outputs) {
    await writeFile(join(root, file), text);
    console.log(`wrote ${file}`);
  }
}
