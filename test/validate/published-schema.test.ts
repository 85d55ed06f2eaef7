/** The published JSON Schemas: current with the TypeBox source, valid 2020-12, and agreeing with validate. */
import { readFile } from "node:fs/promises";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { parse } from "yaml";
import { describe, expect, test } from "vitest";
import { publishedSchemas } from "../../charts-src/model/json-schema.ts";
import { referenceMarkdown } from "../../charts-src/model/reference-doc.ts";

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

describe("schemas/*.schema.json", () => {
  test.each(publishedSchemas())(
    "$file is current (run `npm run schemas` after changing tenant-schema.ts)",
    async ({ file, schema }) => {
      const committed = JSON.parse(await readFile(`schemas/${file}`, "utf8")) as unknown;
      expect(committed).toEqual(schema);
    },
  );

  test("docs/tenant-reference.md is current and lists every field of the tenant schema", async () => {
    const committed = await readFile("docs/tenant-reference.md", "utf8");
    expect(committed).toBe(referenceMarkdown());
    for (const path of ["`spec.redis.appendfsync`", "`spec.network.extraRules[].peers`", "`spec.plans`"]) {
      expect(committed).toContain(path);
    }
  });

  test.each(publishedSchemas())(
    "$file is a valid JSON Schema 2020-12 with id, title and description",
    ({ schema }) => {
      const ajv = new Ajv2020({ strict: false });
      expect(ajv.validateSchema(schema), JSON.stringify(ajv.errors)).toBe(true);
      expect(schema).toMatchObject({
        $schema: "https://json-schema.org/draft/2020-12/schema",
        $id: expect.stringMatching(/^https:\/\//),
        title: expect.any(String),
        description: expect.any(String),
      });
    },
  );

  test("an editor using the committed files accepts the examples and flags a typo", async () => {
    const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
    const tenant = ajv.compile(JSON.parse(await readFile("schemas/tenant.schema.json", "utf8")) as object);
    const platform = ajv.compile(
      JSON.parse(await readFile("schemas/platform.schema.json", "utf8")) as object,
    );
    for (const name of ["acme", "globex", "initech"]) {
      const text = await readFile(`tenants/${name}.yaml`, "utf8");
      expect(text.split("\n")[0]).toBe("# yaml-language-server: $schema=../schemas/tenant.schema.json");
      expect(tenant(parse(text)), JSON.stringify(tenant.errors)).toBe(true);
    }
    const platformText = await readFile("tenants/_platform.yaml", "utf8");
    expect(platformText.split("\n")[0]).toBe(
      "# yaml-language-server: $schema=../schemas/platform.schema.json",
    );
    expect(platform(parse(platformText))).toBe(true);
    const typo = parse(await readFile("tenants/acme.yaml", "utf8")) as {
      spec: { server: Record<string, unknown> };
    };
    typo.spec.server.replcas = 2;
    expect(tenant(typo)).toBe(false);
  });
});
