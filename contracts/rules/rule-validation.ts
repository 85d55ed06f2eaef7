/**
 * Turns untrusted input (API body, rules file from git, MCP tool arguments) into a `Rule`, or a
 * `RuleValidationFailed` listing every problem with the path of the field it concerns.
 */
import { randomBytes } from "node:crypto";
import { conditionErrors } from "./condition-validation.ts";
import {
  durationMs,
  schemaErrors,
  RuleValidationFailed,
  type Condition,
  type Rule,
  type RuleInput,
  type RuleValidationError,
} from "./rule-schema.ts";

const MAX_WINDOW_MS = 86_400_000;
const MIN_WINDOW_MS = 1_000;

const NEEDS_WINDOW = new Set(["frequency", "flatline", "spike", "cardinality", "aggregate"]);
const NEEDS_THRESHOLD = new Set(["frequency", "flatline", "cardinality", "aggregate"]);
const NEEDS_FIELD = new Set(["new_value", "cardinality", "change", "aggregate"]);

function semanticErrors(rule: RuleInput): RuleValidationError[] {
  const errors: RuleValidationError[] = [];
  const { type } = rule;
  if (rule.when) errors.push(...conditionErrors(rule.when as Condition, "/when"));
  if (NEEDS_WINDOW.has(type) && rule.window === undefined) {
    errors.push({ path: "/window", message: `required for type ${type}` });
  }
  if (rule.window !== undefined) {
    const ms = durationMs(rule.window);
    if (ms < MIN_WINDOW_MS || ms > MAX_WINDOW_MS)
      errors.push({ path: "/window", message: "must be between 1s and 1d" });
  }
  if (NEEDS_THRESHOLD.has(type) && rule.threshold === undefined) {
    errors.push({ path: "/threshold", message: `required for type ${type}` });
  }
  if ((type === "frequency" || type === "flatline") && rule.threshold !== undefined && rule.threshold < 1) {
    errors.push({ path: "/threshold", message: "must be >= 1" });
  }
  if (NEEDS_FIELD.has(type) && rule.field === undefined) {
    errors.push({ path: "/field", message: `required for type ${type}` });
  }
  if (type === "aggregate" && rule.aggregation === undefined) {
    errors.push({
      path: "/aggregation",
      message: "required for type aggregate (avg, max, min, sum, percentile)",
    });
  }
  if (rule.aggregation === "percentile" && rule.percentile === undefined) {
    errors.push({ path: "/percentile", message: "required when aggregation is percentile (e.g. 99)" });
  }
  if (rule.op !== undefined && type !== "cardinality" && type !== "aggregate") {
    errors.push({ path: "/op", message: "only used by cardinality and aggregate" });
  }
  for (const key of ["direction", "ratio", "minCount"] as const) {
    if (rule[key] !== undefined && type !== "spike")
      errors.push({ path: `/${key}`, message: "only used by spike" });
  }
  rule.actions?.forEach((action, i) => {
    if ((action.type === "webhook" || action.type === "slack") && action.url === undefined) {
      errors.push({ path: `/actions/${i}/url`, message: `required for ${action.type}` });
    }
    if (action.secret !== undefined && action.secretEnv !== undefined) {
      errors.push({ path: `/actions/${i}/secret`, message: "give secret or secretEnv, not both" });
    }
  });
  return errors;
}

export function newRuleId(): string {
  return `r-${randomBytes(5).toString("hex")}`;
}

export interface RuleOrigin {
  readonly origin: Rule["origin"];
  readonly now: number;
  /** Kept on update so created time and id survive a replace. */
  readonly previous?: Rule;
}

export function validateRule(input: unknown, { origin, now, previous }: RuleOrigin): Rule {
  const errors = schemaErrors(input);
  if (errors.length > 0) throw new RuleValidationFailed(errors);
  const rule = input as RuleInput;
  const semantic = semanticErrors(rule);
  if (semantic.length > 0) throw new RuleValidationFailed(semantic);
  const withSecrets = keepSecrets(rule, previous);
  return {
    ...withSecrets,
    // The schema checked the condition tree; its unrolled depth has no static type of its own.
    when: withSecrets.when as Condition | undefined,
    id: previous?.id ?? rule.id ?? newRuleId(),
    origin,
    createdAt: previous?.createdAt ?? now,
    updatedAt: now,
  };
}

/** A rule read back through the API has its secrets redacted; a PUT of that rule keeps the stored secret. */
function keepSecrets(rule: RuleInput, previous: Rule | undefined): RuleInput {
  if (!previous?.actions || !rule.actions) return rule;
  return {
    ...rule,
    actions: rule.actions.map((action, i) => {
      const old = previous.actions?.[i];
      if (action.secret === undefined && old?.secret !== undefined && old.url === action.url) {
        return { ...action, secret: old.secret };
      }
      return action;
    }),
  };
}

/** What the API and MCP show: secrets replaced by a marker. */
export function redactRule(rule: Rule): Rule & { actions?: unknown[] } {
  if (!rule.actions?.some((a) => a.secret !== undefined)) return rule;
  return {
    ...rule,
    actions: rule.actions.map((a) =>
      a.secret === undefined ? a : { ...a, secret: undefined, hasSecret: true },
    ),
  };
}
