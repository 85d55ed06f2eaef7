/**
 * Compiles a rule condition once into a plain predicate over log entries, so evaluating hundreds of rules per
 * batch is a few function calls per entry, not an interpretation of JSON.
 */
import {
  LOG_LEVELS,
  levelRank,
  type FieldValue,
  type LogEntry,
  type LogLevel,
} from "../../logs/log-entry.ts";
import { operatorsOf } from "../../../contracts/rules/condition-validation.ts";
import type { Condition } from "../../../contracts/rules/rule-schema.ts";
import { compileUserRegex } from "../../../contracts/rules/user-regex.ts";

export type LogPredicate = (entry: LogEntry) => boolean;

/** Level ranks as a lookup table: this runs for every rule on every entry, `indexOf` would scan the list. */
export const LEVEL_RANK: Readonly<Record<string, number>> = Object.fromEntries(
  LOG_LEVELS.map((l, i) => [l, i]),
);

/** Reads a top-level property (message, level, source, traceId, spanId, timestamp) or a flattened attribute. */
export function readField(entry: LogEntry, name: string): FieldValue | undefined {
  switch (name) {
    case "message":
      return entry.message;
    case "level":
      return entry.level;
    case "source":
      return entry.source;
    case "traceId":
      return entry.traceId;
    case "spanId":
      return entry.spanId;
    case "timestamp":
      return entry.timestamp;
    default: {
      const fields = entry.fields;
      const value = fields[name];
      if (value !== undefined || !name.startsWith("fields.")) return value;
      return fields[name.slice(7)];
    }
  }
}

function asNumber(value: FieldValue | undefined): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "") {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** Field values compare as strings when the rule gives a string (attributes often arrive as text). */
function sameValue(actual: FieldValue | undefined, expected: FieldValue, ignoreCase: boolean): boolean {
  if (actual === undefined) return false;
  if (actual === expected) return true;
  if (expected === null || actual === null) return false;
  if (typeof expected === "string") {
    const text = String(actual);
    return ignoreCase ? text.toLowerCase() === expected.toLowerCase() : text === expected;
  }
  if (typeof expected === "number") return asNumber(actual) === expected;
  return typeof actual === "string" && actual === String(expected);
}

/** Compiles a condition that passed `conditionErrors`. */
export function compileCondition(condition: Condition | undefined): LogPredicate {
  if (!condition) return () => true;
  const [op] = operatorsOf(condition);
  const field = condition.field ?? "message";
  const ignoreCase = condition.ignoreCase === true;
  switch (op) {
    case "level": {
      const min = levelRank(condition.level as LogLevel);
      return (e) => (LEVEL_RANK[e.level] ?? 0) >= min;
    }
    case "equals": {
      const expected = condition.equals!;
      return (e) => sameValue(readField(e, field), expected, ignoreCase);
    }
    case "in": {
      const expected = condition.in!;
      const strings = new Set(expected.map((v) => (ignoreCase ? String(v).toLowerCase() : String(v))));
      return (e) => {
        const v = readField(e, field);
        if (v === undefined) return false;
        if (v === null) return expected.includes(null);
        return strings.has(ignoreCase ? String(v).toLowerCase() : String(v));
      };
    }
    case "exists": {
      const want = condition.exists!;
      return (e) => {
        const v = readField(e, field);
        return (v !== undefined && v !== null && v !== "") === want;
      };
    }
    case "range": {
      const { gt, gte, lt, lte } = condition;
      return (e) => {
        const n = asNumber(readField(e, field));
        if (n === undefined) return false;
        return (
          (gt === undefined || n > gt) &&
          (gte === undefined || n >= gte) &&
          (lt === undefined || n < lt) &&
          (lte === undefined || n <= lte)
        );
      };
    }
    case "contains": {
      const needle = ignoreCase ? condition.contains!.toLowerCase() : condition.contains!;
      return (e) => {
        const v = readField(e, field);
        if (v === undefined || v === null) return false;
        const text = String(v);
        return (ignoreCase ? text.toLowerCase() : text).includes(needle);
      };
    }
    case "regex": {
      const compiled = compileUserRegex(condition.regex!, ignoreCase);
      // Conditions reach here validated (conditionErrors); a pattern that does not compile is a programming error.
      if (!compiled.ok) throw new Error(`condition regex: ${compiled.problem}`);
      const re = compiled.regex;
      return (e) => {
        const v = readField(e, field);
        return v !== undefined && v !== null && re.test(String(v));
      };
    }
    case "all": {
      const parts = condition.all!.map(compileCondition);
      return (e) => parts.every((p) => p(e));
    }
    case "any": {
      const parts = condition.any!.map(compileCondition);
      return (e) => parts.some((p) => p(e));
    }
    case "not": {
      const inner = compileCondition(condition.not);
      return (e) => !inner(e);
    }
    default:
      throw new Error(`condition has no operator: ${JSON.stringify(condition)}`);
  }
}
