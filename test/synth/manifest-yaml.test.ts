/**
 * The manifest YAML writer: whatever the value, the `yaml` package reads back exactly that value under the
 * YAML 1.1 rules (kubectl, Argo CD) and the 1.2 rules; and for real manifests it writes what the `yaml`
 * package itself would.
 */
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { resolvePlatform, resolveTenant } from "../../charts-src/model/resolve.ts";
import type { PlatformFile, TenantFile } from "../../charts-src/model/tenant-schema.ts";
import { tenantObjects } from "../../charts-src/charts/tenant-chart.ts";
import { manifestYaml } from "../../charts-src/render/manifest-yaml.ts";
import { EXAMPLE_PLATFORM, exampleTenants } from "./tenant-sets.ts";

const roundTrips = (value: Record<string, unknown>) => {
  const text = manifestYaml(value);
  expect(YAML.parse(text, { version: "1.1" }), text).toEqual(value);
  expect(YAML.parse(text, { version: "1.2" }), text).toEqual(value);
  return text;
};

const TRICKY_STRINGS = [
  "",
  " ",
  "yes",
  "No",
  "ON",
  "off",
  "y",
  "n",
  "true",
  "False",
  "null",
  "Null",
  "~",
  "=",
  "<<",
  "0",
  "0755",
  "0o17",
  "0x1F",
  "0b101",
  "1_000",
  "1:20",
  "190:20:30",
  "-2",
  "+3",
  "1e3",
  "1.5",
  ".5",
  ".inf",
  "-.Inf",
  ".NaN",
  "2026-11-27",
  "2026-11-27T12:00:00Z",
  "- item",
  "-",
  "--requirepass",
  "? key",
  ": value",
  "a: b",
  "a:",
  "a #b",
  "#comment",
  "&anchor",
  "*alias",
  "!tag",
  "|block",
  ">folded",
  "'single'",
  '"double"',
  "%directive",
  "@at",
  "`tick",
  "{{ .path.basename }}",
  "[list]",
  "{map}",
  "a, b",
  " leading",
  "trailing ",
  "tab\there",
  "ünïcødé",
  "line\u2028separator",
  "nel\u0085",
  "bom\ufeff",
  "control\u0001",
  "$(REDIS_PASSWORD)",
  "redis://:$(REDIS_PASSWORD)@host:6379",
  "0 */6 * * *",
  "10.0.0.0/8",
  "203.0.113.0/24,198.51.100.16/28",
];

const TRICKY_BLOCKS = [
  "one\ntwo\n",
  "one\ntwo",
  "one\ntwo\n\n\n",
  "one\n\n\ntwo\n",
  "  indented first line\nsecond\n",
  "trailing space \nnext\n",
  "\nleading newline\n",
  "\n",
  "tab\tinside\nline\n",
  "# comment-like\n- dash-like\n",
  '{\n  "json": [1, 2]\n}\n',
];

describe("manifestYaml", () => {
  it("keeps every tricky string a string, as a value and as a key", () => {
    for (const text of TRICKY_STRINGS) {
      roundTrips({ value: text });
      roundTrips({ [text]: "key" });
      roundTrips({ list: [text, { nested: text }] });
    }
  });

  it("writes multi-line strings as literal blocks, or quoted when a block would change them", () => {
    for (const text of TRICKY_BLOCKS) roundTrips({ data: { "file.conf": text }, list: [text] });
    expect(manifestYaml({ conf: "a\nb\n" })).toBe("conf: |\n  a\n  b\n");
    expect(manifestYaml({ conf: "a\nb" })).toBe("conf: |-\n  a\n  b\n");
  });

  it("writes numbers, booleans, null, empty and nested collections", () => {
    const text = roundTrips({
      int: 8080,
      negative: -2,
      float: 0.75,
      big: 6442450944,
      yes: true,
      no: false,
      nothing: null,
      emptyMap: {},
      emptyList: [],
      nested: [[1, 2], [], [{}], { a: [{ b: [] }] }],
      listOfMaps: [
        { name: "a", value: "1" },
        { name: "b", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
      ],
    });
    expect(text).toContain("int: 8080\n");
    expect(text).toContain("emptyMap: {}\n");
    expect(text).toContain('  - name: a\n    value: "1"\n');
  });

  it("refuses values JSON cannot hold", () => {
    expect(() => manifestYaml({ n: Number.NaN })).toThrow(/NaN/);
    expect(() => manifestYaml({ n: Infinity })).toThrow(/Infinity/);
  });

  it("writes the example manifests exactly as the yaml package would", () => {
    const platformFile = YAML.parse(EXAMPLE_PLATFORM) as PlatformFile;
    const platform = resolvePlatform(platformFile);
    for (const text of Object.values(exampleTenants())) {
      const tenant = resolveTenant(YAML.parse(text) as TenantFile, platformFile);
      for (const object of tenantObjects(tenant, platform)) {
        expect(manifestYaml(object)).toBe(YAML.stringify(object, { version: "1.1", lineWidth: 0 }));
      }
    }
  });
});
