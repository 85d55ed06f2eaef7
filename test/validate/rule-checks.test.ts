/** Rules in tenant files are checked with the server's own rule schema and validation, at their YAML position. */
import { describe, expect, test } from "vitest";
import { loadFixture, TEST_PLATFORM, tenantLines } from "./fixture-tree.ts";

describe("spec.server.rules", () => {
  test("a rule without id is refused: the server keys alert state by it and refuses such a rules file", async () => {
    const body =
      "server:\n  rules:\n    - { name: errors, type: frequency, when: { level: error }, threshold: 5, window: 1m }\n";
    expect(await tenantLines(body)).toEqual([
      "acme.yaml:9:9: spec.server.rules[0]: rules from git need a stable id (add id: <name>)",
    ]);
  });

  test("a valid rule passes", async () => {
    const body =
      "server:\n  rules:\n    - { id: errors, name: errors, type: frequency, when: { level: error }, threshold: 5, window: 1m }\n";
    expect(await tenantLines(body)).toEqual([]);
  });

  test("schema mistakes get the same messages as the rest of the file", async () => {
    const body = [
      "server:",
      "  rules:",
      "    - name: burst", // 9
      "      type: frequncy", // 10
      "      condition: { level: error }", // 11
      "      window: 5 minutes", // 12
      "      op: abov", // 13
      "      when:",
      "        all:",
      "          - { levl: error }", // 16
    ].join("\n");
    expect(await tenantLines(body)).toEqual([
      'acme.yaml:10:15: spec.server.rules[0].type: must be one of "any", "frequency", "flatline", "spike", "new_value", "cardinality", "change", "aggregate" (got "frequncy") (did you mean "frequency"?)',
      'acme.yaml:11:9: spec.server.rules[0].condition: unknown field "condition"; allowed here: id, name, description, enabled, severity, type, when, groupBy, window, threshold, op, field, aggregation, percentile, direction, ratio, minCount, realert, resolveAfter, notifyResolved, actions',
      'acme.yaml:12:17: spec.server.rules[0].window: must be a duration: a number followed by ms, s, m, h, d or w, e.g. 30s, 7d (got "5 minutes")',
      'acme.yaml:13:13: spec.server.rules[0].op: must be one of "above", "below" (got "abov") (did you mean "above"?)',
      'acme.yaml:16:17: spec.server.rules[0].when.all[0].levl: unknown field "levl" (did you mean "level"?)',
    ]);
  });

  test("the server's semantic rule checks, at the field they name", async () => {
    const body = [
      "server:",
      "  rules:",
      "    - name: burst", // 9
      "      type: frequency",
      "      when: { regex: '(a)\\1' }", // 11
      "    - { id: dup, name: a, type: any }", // 12
      "    - { id: dup, name: b, type: any }", // 13
    ].join("\n");
    const lines = await tenantLines(body);
    expect(lines).toContain("acme.yaml:9:9: spec.server.rules[0].window: required for type frequency");
    expect(lines).toContain("acme.yaml:9:9: spec.server.rules[0].threshold: required for type frequency");
    expect(lines).toContain(
      "acme.yaml:11:24: spec.server.rules[0].when.regex: unsupported regular expression: backreferences (\\1, \\k<name>) are not supported (the RE2 syntax, which matches in linear time)",
    );
    expect(lines).toContain('acme.yaml:13:15: spec.server.rules[2].id: "dup" is already the id of rule 1');
  });

  test("a pattern a backtracking engine would take exponential time on is accepted: RE2 matches it linearly", async () => {
    const body = [
      "server:",
      "  rules:",
      "    - { id: a, name: a, type: any, when: { field: x, regex: '^(.|.)*QQQQ$' } }",
      "    - { id: b, name: b, type: any, when: { field: x, regex: '^(\\w|\\d)+$' } }",
      "    - { id: c, name: c, type: any, when: { field: x, regex: '(?=x)y' } }", // 11
    ].join("\n");
    expect(await tenantLines(body)).toEqual([
      "acme.yaml:11:63: spec.server.rules[2].when.regex: unsupported regular expression: lookahead and lookbehind ((?=…), (?!…), (?<=…), (?<!…)) are not supported (the RE2 syntax, which matches in linear time)",
    ]);
  });

  test("a rule action's literal secret is refused; secretEnv is the way", async () => {
    const body = [
      "server:",
      "  rules:",
      "    - id: page",
      "      name: page",
      "      type: any",
      "      actions:",
      "        - { type: webhook, url: 'https://hooks.example.com/x', secret: 0123456789abcdef0123 }", // 13
      "        - { type: webhook, url: 'https://hooks.example.com/y', secretEnv: NEURALLOG_WEBHOOK_PAGE }",
    ].join("\n");
    expect(await tenantLines(body)).toEqual([
      'acme.yaml:13:74: spec.server.rules[0].actions[0].secret: "secret" holds a literal value: secrets never go into tenant files; store it in a Secret and reference the Secret by name',
    ]);
  });

  test("secretEnv names only NEURALLOG_WEBHOOK_ variables, pub/sub channels only safe names", async () => {
    const body = [
      "server:",
      "  rules:",
      "    - id: leak",
      "      name: leak",
      "      type: any",
      "      actions:",
      "        - { type: webhook, url: 'https://hooks.example.com/x', secretEnv: REDIS_URL }", // 13
      "        - { type: pubsub, channel: '__keyspace@0__:x' }", // 14
    ].join("\n");
    const lines = await tenantLines(body);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^acme\.yaml:13:\d+: spec\.server\.rules\[0\]\.actions\[0\]\.secretEnv: .*NEURALLOG_WEBHOOK_/,
    );
    expect(lines[1]).toMatch(/^acme\.yaml:14:\d+: spec\.server\.rules\[0\]\.actions\[1\]\.channel: /);
  });
});

test("rules in a plan are checked in the platform file", async () => {
  const platform = TEST_PLATFORM.replace(
    "    small: {}",
    "    small:\n      server:\n        rules: [{ name: x, type: spike }]",
  );
  const { lines } = await loadFixture({}, platform);
  expect(lines).toEqual([
    "_platform.yaml:22:17: spec.plans.small.server.rules[0].window: required for type spike",
  ]);
});
