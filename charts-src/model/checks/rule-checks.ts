/**
 * Alerting rules kept in git (`spec.server.rules`, also in plans) are checked against the server's own rule
 * schema and rule validation (`contracts/rules/`), so a file that passes here is one the server accepts at start.
 * The published tenant schema keeps rules loosely typed: the rule schema unrolls nested conditions and would
 * multiply the schema's size and Ajv's compile time; the server's compiled validator is cheap instead.
 */
import type { Diagnostic } from "../diagnostic.ts";
import { formatPath, parsePointer, type FieldPath } from "../field-path.ts";
import { describeErrors, type JsonSchema, type SchemaError } from "../schema-validation.ts";
import type { YamlSource } from "../yaml-source.ts";
import { reportFor } from "./report.ts";

// Type-only imports vanish at run time; the modules themselves load on first use (below).
import type * as RuleSchemaModule from "../../../contracts/rules/rule-schema.ts";
import type * as RuleValidationModule from "../../../contracts/rules/rule-validation.ts";

type RuleModules = [typeof RuleSchemaModule, typeof RuleValidationModule];

let modules: Promise<RuleModules> | undefined;

/** Loaded on first use: trees without rules do not pay for the rule engine's validator. */
function ruleModules(): Promise<RuleModules> {
  modules ??= Promise.all([
    import("../../../contracts/rules/rule-schema.ts"),
    import("../../../contracts/rules/rule-validation.ts"),
  ]);
  return modules;
}

/** Findings for the rules at `base` (e.g. `["spec","server","rules"]`) of one file. */
export async function ruleDiagnostics(
  source: YamlSource,
  rules: readonly unknown[],
  base: FieldPath,
): Promise<Diagnostic[]> {
  if (rules.length === 0) return [];
  const [{ RuleSchema, ruleValidator, RuleValidationFailed }, { validateRule }] = await ruleModules();
  const report = reportFor(source);
  const ids = new Map<string, number>();
  rules.forEach((rule, i) => {
    const at: FieldPath = [...base, i];
    if (!ruleValidator.Check(rule)) {
      const errors = [...ruleValidator.Errors(rule)].flatMap((e) =>
        adapt(e, rule, RuleSchema as unknown as JsonSchema),
      );
      for (const finding of describeErrors(errors, RuleSchema as unknown as JsonSchema, at)) {
        // The finding's message starts with its path; the report adds that itself.
        report.error(finding.path, finding.message.slice(formatPath(finding.path).length + 2), {
          at: finding.at,
        });
      }
      return;
    }
    try {
      validateRule(rule, { origin: "git", now: 0 });
    } catch (error) {
      if (!(error instanceof RuleValidationFailed)) throw error;
      for (const problem of error.errors)
        report.error([...at, ...parsePointer(problem.path)], problem.message);
      return;
    }
    const id = (rule as { id?: string }).id;
    // The server refuses a rules file with a rule without id (server/alerting/engine/rule-store.ts): alert state is keyed
    // by it, so it must not change when a rule is renamed. Caught here, not as a crash-looping pod.
    if (id === undefined) report.error([...at], "rules from git need a stable id (add id: <name>)");
    if (id !== undefined) {
      const first = ids.get(id);
      if (first !== undefined) report.error([...at, "id"], `"${id}" is already the id of rule ${first}`);
      else ids.set(id, i);
    }
  });
  return report.diagnostics;
}

interface TypeBoxError {
  readonly keyword: string;
  readonly schemaPath: string;
  readonly instancePath: string;
  readonly params: Record<string, unknown>;
  readonly message: string;
}

/** A TypeBox validation error in the shape `describeErrors` reads (Ajv's, with `verbose`). */
function adapt(error: TypeBoxError, value: unknown, root: JsonSchema): SchemaError[] {
  const parentSchema = schemaAt(root, error.schemaPath);
  const data = valueAt(value, parsePointer(error.instancePath));
  const common = { instancePath: error.instancePath, parentSchema, data, message: error.message };
  switch (error.keyword) {
    case "boolean": // TypeBox's echo of additionalProperties: false on the property itself
      return [];
    case "additionalProperties":
      return ((error.params.additionalProperties as string[] | undefined) ?? []).map((name) => ({
        ...common,
        keyword: "additionalProperties",
        params: { additionalProperty: name },
      }));
    case "required":
      return ((error.params.requiredProperties as string[] | undefined) ?? []).map((name) => ({
        ...common,
        keyword: "required",
        params: { missingProperty: name },
      }));
    case "const": {
      // A branch of a union of literals: TypeBox may stop before the union's own error, so raise it here.
      const branch = /\/anyOf\/\d+$/.exec(error.schemaPath);
      if (!branch) return [{ ...common, keyword: "const", params: error.params }];
      const union = schemaAt(root, error.schemaPath.slice(0, branch.index));
      return [{ ...common, keyword: "anyOf", params: {}, parentSchema: union }];
    }
    default:
      return [{ ...common, keyword: error.keyword, params: error.params }];
  }
}

function schemaAt(root: JsonSchema, pointer: string): JsonSchema {
  let node: unknown = root;
  for (const segment of parsePointer(pointer.replace(/^#/, ""))) {
    node = (node as Record<string | number, unknown> | undefined)?.[segment];
  }
  return (node ?? {}) as JsonSchema;
}

function valueAt(root: unknown, path: FieldPath): unknown {
  let node = root;
  for (const segment of path) node = (node as Record<string | number, unknown> | undefined)?.[segment];
  return node;
}
