/**
 * The checks on a rule condition that the schema cannot express (one operator per condition, a field where the
 * operator needs one, regular expressions in the RE2 syntax, see `user-regex.ts`). The server compiles the
 * conditions that pass (`server/alerting/engine/condition.ts`); the tenant model reports the same problems at validate time.
 */
import type { Condition, RuleValidationError } from "./rule-schema.ts";
import { compileUserRegex } from "./user-regex.ts";

const OPERATORS = [
  "level",
  "equals",
  "in",
  "exists",
  "range",
  "contains",
  "regex",
  "all",
  "any",
  "not",
] as const;
export type Operator = (typeof OPERATORS)[number];

export function operatorsOf(condition: Condition): Operator[] {
  const found: Operator[] = [];
  if (condition.level !== undefined) found.push("level");
  if (condition.equals !== undefined) found.push("equals");
  if (condition.in !== undefined) found.push("in");
  if (condition.exists !== undefined) found.push("exists");
  if ([condition.gt, condition.gte, condition.lt, condition.lte].some((v) => v !== undefined))
    found.push("range");
  if (condition.contains !== undefined) found.push("contains");
  if (condition.regex !== undefined) found.push("regex");
  if (condition.all !== undefined) found.push("all");
  if (condition.any !== undefined) found.push("any");
  if (condition.not !== undefined) found.push("not");
  return found;
}

/** Why a pattern cannot be used (not RE2 syntax, unsupported construct, too large), or undefined. */
export function checkRegex(pattern: string, ignoreCase: boolean): string | undefined {
  const compiled = compileUserRegex(pattern, ignoreCase);
  return compiled.ok ? undefined : compiled.problem;
}

/** Semantic checks the schema cannot express; returns every problem with its path. */
export function conditionErrors(condition: Condition, path: string): RuleValidationError[] {
  const errors: RuleValidationError[] = [];
  const ops = operatorsOf(condition);
  if (ops.length === 0) {
    errors.push({ path, message: `needs one operator: ${OPERATORS.join(", ")}` });
    return errors;
  }
  if (ops.length > 1) {
    errors.push({ path, message: `has several operators (${ops.join(", ")}); combine them with all/any` });
    return errors;
  }
  const op = ops[0]!;
  const needsField = op === "equals" || op === "in" || op === "exists" || op === "range";
  if (needsField && condition.field === undefined)
    errors.push({ path: `${path}/field`, message: `required by ${op}` });
  if ((op === "level" || op === "all" || op === "any" || op === "not") && condition.field !== undefined) {
    errors.push({ path: `${path}/field`, message: `not used by ${op}` });
  }
  if (op === "regex") {
    const problem = checkRegex(condition.regex!, condition.ignoreCase === true);
    if (problem) errors.push({ path: `${path}/regex`, message: problem });
  }
  if (op === "all" || op === "any") {
    condition[op]!.forEach((child, i) => errors.push(...conditionErrors(child, `${path}/${op}/${i}`)));
  }
  if (op === "not") errors.push(...conditionErrors(condition.not!, `${path}/not`));
  return errors;
}
