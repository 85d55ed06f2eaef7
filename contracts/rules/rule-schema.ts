/**
 * The rule schema: one TypeBox schema gives the TypeScript types, the validation of the API, of the rules file
 * from git and of the MCP create_rule tool, and the OpenAPI document. The tenant model validates a tenant's
 * `server.rules` with it (`charts-src/model/checks/rule-checks.ts`), so a tenant file is checked against the same
 * definition the server enforces.
 *
 * The shape is flat on purpose (a `type` plus the parameters it uses) instead of a union per type: validation
 * errors then name the one field that is wrong instead of listing every branch of a union.
 */
import { Type, type Static, type TSchema } from "typebox";
import { Compile } from "typebox/compile";
import { DURATION_PATTERN, DURATION_SYNTAX, parseDurationMs } from "../duration.ts";
import { LOG_LEVELS } from "../log-levels.ts";

export const RULE_TYPES = [
  "any",
  "frequency",
  "flatline",
  "spike",
  "new_value",
  "cardinality",
  "change",
  "aggregate",
] as const;
export type RuleType = (typeof RULE_TYPES)[number];

export const SEVERITIES = ["info", "warning", "critical"] as const;
export const AGGREGATIONS = ["avg", "max", "min", "sum", "percentile"] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** `250ms`, `30s`, `5m`, `2h`, `1d`, `2w`: readable in a tenant file, exact in milliseconds. */
export const Duration = Type.String({
  pattern: DURATION_PATTERN,
  description: `A duration: ${DURATION_SYNTAX}`,
});

/** A duration the schema already accepted, in milliseconds. */
export function durationMs(text: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined) throw new Error(`not a duration: ${JSON.stringify(text)} (${DURATION_SYNTAX})`);
  return ms;
}

const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);

/** The operators a single condition may carry; exactly one operator per condition object. */
const leafProperties = {
  field: Type.Optional(
    Type.String({
      minLength: 1,
      description: "message, level, source, traceId, spanId or an attribute name (dotted, e.g. http.status)",
    }),
  ),
  level: Type.Optional(Type.Enum(LOG_LEVELS, { description: "level at least" })),
  equals: Type.Optional(Scalar),
  in: Type.Optional(Type.Array(Scalar, { minItems: 1, maxItems: 1000 })),
  exists: Type.Optional(Type.Boolean()),
  gt: Type.Optional(Type.Number()),
  gte: Type.Optional(Type.Number()),
  lt: Type.Optional(Type.Number()),
  lte: Type.Optional(Type.Number()),
  contains: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
  regex: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 500,
      description:
        "RE2 syntax (https://github.com/google/re2/wiki/Syntax), matched anywhere in the field's text in linear time; backreferences, lookahead and lookbehind are refused",
    }),
  ),
  ignoreCase: Type.Optional(Type.Boolean()),
};

/**
 * Conditions nest through all/any/not. The nesting is unrolled to a fixed depth instead of a `$ref` cycle so the
 * schema stays self-contained for Fastify, OpenAPI and MCP clients alike.
 */
function conditionSchema(depth: number): TSchema {
  const nested: Record<string, TSchema> =
    depth === 0
      ? {}
      : {
          all: Type.Optional(Type.Array(conditionSchema(depth - 1), { minItems: 1, maxItems: 100 })),
          any: Type.Optional(Type.Array(conditionSchema(depth - 1), { minItems: 1, maxItems: 100 })),
          not: Type.Optional(conditionSchema(depth - 1)),
        };
  return Type.Object({ ...leafProperties, ...nested }, { additionalProperties: false });
}

export const MAX_CONDITION_DEPTH = 4;
export const ConditionSchema = conditionSchema(MAX_CONDITION_DEPTH);

/** A condition, as the engine reads it (the schema bounds the nesting depth). */
export interface Condition {
  readonly field?: string;
  readonly level?: (typeof LOG_LEVELS)[number];
  readonly equals?: string | number | boolean | null;
  readonly in?: readonly (string | number | boolean | null)[];
  readonly exists?: boolean;
  readonly gt?: number;
  readonly gte?: number;
  readonly lt?: number;
  readonly lte?: number;
  readonly contains?: string;
  readonly regex?: string;
  readonly ignoreCase?: boolean;
  readonly all?: readonly Condition[];
  readonly any?: readonly Condition[];
  readonly not?: Condition;
}

/** Only variables meant for webhook secrets may be named by `secretEnv`. */
export const SECRET_ENV_PREFIX = "NEURALLOG_WEBHOOK_";
const SECRET_ENV_PATTERN = `^${SECRET_ENV_PREFIX}[A-Z0-9_]+$`;
/** A pub/sub channel is a suffix under the tenant's own alert events channel (`pubsubChannel` in the worker). */
const PUBSUB_CHANNEL_PATTERN = "^[a-z0-9][a-z0-9._-]{0,63}$";

export const ActionSchema = Type.Object(
  {
    type: Type.Union([Type.Literal("webhook"), Type.Literal("slack"), Type.Literal("pubsub")], {
      description:
        "webhook: signed JSON POST; slack: Slack-compatible incoming-webhook message; pubsub: Redis PUBLISH",
    }),
    url: Type.Optional(Type.String({ pattern: "^https?://", maxLength: 2000 })),
    secretEnv: Type.Optional(
      Type.String({
        pattern: SECRET_ENV_PATTERN,
        maxLength: 128,
        description: `Environment variable holding the HMAC secret (keeps secrets out of git); its name starts with ${SECRET_ENV_PREFIX}, so a rule cannot read the server's other variables (REDIS_URL, API keys) into a signature`,
      }),
    ),
    secret: Type.Optional(
      Type.String({ minLength: 16, maxLength: 256, description: "HMAC secret; write-only, never returned" }),
    ),
    channel: Type.Optional(
      Type.String({
        pattern: PUBSUB_CHANNEL_PATTERN,
        description:
          "pubsub channel name (lower-case letters, digits, . _ -; at most 64); published as <tenant's alert events channel>:<channel>, never outside the tenant's key space; default the alert events channel itself",
      }),
    ),
    timeout: Type.Optional(Duration),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
  },
  { additionalProperties: false },
);
export type RuleAction = Static<typeof ActionSchema>;

export const RuleSchema = Type.Object(
  {
    id: Type.Optional(
      Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$", description: "Stable id; generated when omitted" }),
    ),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    enabled: Type.Optional(Type.Boolean({ description: "default true" })),
    severity: Type.Optional(Type.Enum(SEVERITIES, { description: "default warning" })),
    type: Type.Enum(RULE_TYPES, {
      description:
        "any: every match; frequency: >= threshold matches in window; flatline: < threshold in window (fires with no logs); " +
        "spike: window count vs previous window by ratio; new_value: first time `field` has a value; " +
        "cardinality: distinct `field` values in window above/below threshold; change: `field` changes for a group; " +
        "aggregate: avg/max/min/sum/percentile of numeric `field` in window above/below threshold",
    }),
    when: Type.Optional(ConditionSchema),
    groupBy: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 5 })),
    window: Type.Optional(Duration),
    threshold: Type.Optional(Type.Number()),
    op: Type.Optional(
      Type.Union([Type.Literal("above"), Type.Literal("below")], { description: "default above" }),
    ),
    field: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    aggregation: Type.Optional(Type.Enum(AGGREGATIONS)),
    percentile: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100 })),
    direction: Type.Optional(
      Type.Union([Type.Literal("up"), Type.Literal("down")], { description: "spike; default up" }),
    ),
    ratio: Type.Optional(Type.Number({ exclusiveMinimum: 1, description: "spike ratio; default 3" })),
    minCount: Type.Optional(Type.Integer({ minimum: 0, description: "spike: minimum count; default 10" })),
    realert: Type.Optional(Duration),
    resolveAfter: Type.Optional(Duration),
    notifyResolved: Type.Optional(Type.Boolean({ description: "default true" })),
    actions: Type.Optional(Type.Array(ActionSchema, { maxItems: 10 })),
  },
  { additionalProperties: false },
);

/** A rule as written by a user; `Rule` is what the store returns (id and defaults filled in). */
export type RuleInput = Static<typeof RuleSchema>;
export interface Rule extends Omit<RuleInput, "when"> {
  readonly id: string;
  readonly when?: Condition;
  /** `git` rules come from the tenant file and are read-only through the API. */
  readonly origin: "api" | "git";
  readonly createdAt: number;
  readonly updatedAt: number;
}

export const RuleListSchema = Type.Array(RuleSchema);

export interface RuleValidationError {
  /** JSON pointer into the rule, e.g. `/when/all/0/regex`. */
  readonly path: string;
  readonly message: string;
}

export class RuleValidationFailed extends Error {
  readonly errors: readonly RuleValidationError[];
  constructor(errors: readonly RuleValidationError[]) {
    super(errors.map((e) => `${e.path || "/"}: ${e.message}`).join("; "));
    this.name = "RuleValidationFailed";
    this.errors = errors;
  }
}

export const ruleValidator = Compile(RuleSchema);

/** Schema errors, deepest first and one per path, so a user sees the field that is wrong. */
export function schemaErrors(value: unknown): RuleValidationError[] {
  if (ruleValidator.Check(value)) return [];
  const seen = new Set<string>();
  const errors: RuleValidationError[] = [];
  for (const error of ruleValidator.Errors(value)) {
    if (error.keyword === "boolean") continue; // duplicate of the additionalProperties error on the parent
    let path = error.instancePath;
    let message = error.message;
    if (error.keyword === "additionalProperties") {
      const extra = (error.params as { additionalProperties?: string[] }).additionalProperties ?? [];
      path = `${path}/${extra.join(",")}`;
      message = "unknown property";
    }
    if (seen.has(path)) continue;
    seen.add(path);
    errors.push({ path, message });
  }
  return errors;
}
