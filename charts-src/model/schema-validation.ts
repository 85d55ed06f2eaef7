/**
 * Runtime validation of tenant and platform files against the TypeBox schema (Ajv, JSON Schema 2020-12, the
 * dialect TypeBox emits), with Ajv's errors turned into messages a human can act on: one per problem, at the
 * YAML node it is about, with "did you mean" for unknown fields.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { Diagnostic } from "./diagnostic.ts";
import { formatPath, parsePointer, type FieldPath } from "./field-path.ts";
import { isSecretKey, secretKind } from "./checks/secret-scan.ts";
import { closest, didYouMean } from "./suggest.ts";
import { PATTERN_DESCRIPTIONS, Platform, QUANTITY_PATTERN, Tenant } from "./tenant-schema.ts";
import { locate, type YamlSource } from "./yaml-source.ts";

export type JsonSchema = Record<string, unknown> & {
  properties?: Record<string, JsonSchema>;
  patternProperties?: Record<string, JsonSchema>;
};

// ajv-formats is CommonJS; its default export arrives wrapped under Node's ESM interop.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

let validators: { tenant: ValidateFunction; platform: ValidateFunction } | undefined;

function compiled() {
  if (!validators) {
    // verbose: errors carry the failing (sub)schema and data, which the messages below are built from.
    // validateSchema off: checking our own schema against the meta-schema doubled the start-up cost; the
    // published-schema test does that check once instead.
    const ajv = addFormats(
      new Ajv2020({ allErrors: true, strict: false, verbose: true, validateSchema: false }),
    );
    validators = { tenant: ajv.compile(Tenant), platform: ajv.compile(Platform) };
  }
  return validators;
}

export type DocumentKind = "Tenant" | "Platform";

export interface SchemaResult {
  /** Empty when the file conforms. */
  readonly diagnostics: Diagnostic[];
  /**
   * The value with every offending part removed, when what remains conforms (else undefined). Semantic
   * checks run on it, so one run reports a bad CIDR even while a misspelt field sits next to it.
   */
  readonly conforming?: unknown;
}

export function validateSchema(source: YamlSource, kind: DocumentKind): SchemaResult {
  const validate = kind === "Tenant" ? compiled().tenant : compiled().platform;
  if (validate(source.value)) return { diagnostics: [], conforming: source.value };
  const errors = validate.errors ?? [];
  const diagnostics = describeErrors(
    errors,
    (kind === "Tenant" ? Tenant : Platform) as unknown as JsonSchema,
  ).map(({ path, at, message }) => {
    const { line, column } = locate(source, path, at);
    return { file: source.file, line, column, message, severity: "error" as const };
  });
  return { diagnostics, conforming: withoutOffenders(source.value, errors, validate) };
}

/**
 * Removes what the errors point at: unknown fields, and values of the wrong shape. An error inside a list
 * removes the whole list (removing one item would shift the positions of the others). A required field that is
 * missing (or just removed) gets a minimal stand-in when no check reads it; without a tenant name there is
 * nothing sensible to check.
 */
function withoutOffenders(
  value: unknown,
  errors: readonly ErrorObject[],
  validate: ValidateFunction,
): unknown {
  const current = structuredClone(value);
  let pending = errors;
  for (let round = 0; round < 4; round++) {
    for (const error of pending) {
      const path = parsePointer(error.instancePath);
      if (error.keyword === "required") {
        const missing = String((error.params as { missingProperty: string }).missingProperty);
        const schema = (error.parentSchema as JsonSchema).properties?.[missing];
        const parent = valueAt(current, path);
        const nameless =
          path.length === 0 ? missing === "metadata" : path.join(".") === "metadata" && missing === "name";
        if (nameless || !schema || !isObject(parent)) return undefined;
        parent[missing] = standIn(schema);
        continue;
      }
      if (error.keyword === "additionalProperties") {
        path.push(String((error.params as { additionalProperty: string }).additionalProperty));
      }
      const firstIndex = path.findIndex((segment) => typeof segment === "number");
      const cut = firstIndex >= 0 ? path.slice(0, firstIndex) : path;
      if (cut.length === 0 || (cut.length === 2 && cut[0] === "metadata" && cut[1] === "name"))
        return undefined;
      const parent = valueAt(current, cut.slice(0, -1));
      if (isObject(parent)) delete parent[cut.at(-1)!];
    }
    if (validate(current)) return current;
    pending = validate.errors ?? [];
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string | number, unknown> {
  return typeof value === "object" && value !== null;
}

function valueAt(root: unknown, path: FieldPath): unknown {
  let node = root;
  for (const segment of path) node = isObject(node) ? node[segment] : undefined;
  return node;
}

/** The smallest value that satisfies `schema` (for required fields the semantic checks do not read). */
function standIn(schema: JsonSchema): unknown {
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  switch (schema.type) {
    case "array":
      return typeof schema.minItems === "number" && schema.minItems > 0 && schema.items
        ? [standIn(schema.items as JsonSchema)]
        : [];
    case "object":
      return Object.fromEntries(
        ((schema.required as string[] | undefined) ?? []).map((key) => [
          key,
          standIn(schema.properties?.[key] ?? {}),
        ]),
      );
    case "integer":
    case "number":
      return typeof schema.minimum === "number" ? schema.minimum : 0;
    case "boolean":
      return false;
    default:
      return "x";
  }
}

export interface Finding {
  readonly path: FieldPath;
  readonly at: "key" | "value";
  readonly message: string;
}

/** Keywords that all say "this value is not what this place expects": one message per place covers them. */
const VALUE_KEYWORDS = new Set([
  "type",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "pattern",
  "format",
  "minLength",
  "maxLength",
  "enum",
  "const",
]);

/** What the messages need from a validator's error: Ajv's shape (`verbose: true`), which adapters mimic. */
export type SchemaError = Pick<ErrorObject, "keyword" | "instancePath" | "params" | "message"> & {
  readonly parentSchema?: unknown;
  readonly data?: unknown;
};

/**
 * Findings for validator errors over a value whose schema is `root`, located at `base` in the file (the
 * whole document, or e.g. one rule inside a tenant).
 */
export function describeErrors(
  errors: readonly SchemaError[],
  root: JsonSchema,
  base: FieldPath = [],
): Finding[] {
  const findings: Finding[] = [];
  const valueProblemAt = new Set<string>();
  const missingAt = new Map<string, { path: FieldPath; names: string[] }>();
  // Branches of anyOf/oneOf report their own failures plus one summary; the summary is what helps.
  const combinatorPaths = new Set(
    errors.filter((e) => e.keyword === "anyOf" || e.keyword === "oneOf").map((e) => e.instancePath),
  );
  for (const error of errors) {
    const relative = parsePointer(error.instancePath);
    const path = [...base, ...relative];
    const where = error.instancePath;
    if (combinatorPaths.has(where) && error.keyword !== "anyOf" && error.keyword !== "oneOf") continue;
    if (error.keyword === "additionalProperties") {
      const name = String((error.params as { additionalProperty: string }).additionalProperty);
      findings.push({
        path: [...path, name],
        at: "key",
        message: unknownField(path, name, error.parentSchema as JsonSchema, root, base),
      });
    } else if (error.keyword === "required") {
      const name = String((error.params as { missingProperty: string }).missingProperty);
      const entry = missingAt.get(where) ?? { path, names: [] };
      entry.names.push(name);
      missingAt.set(where, entry);
    } else if (VALUE_KEYWORDS.has(error.keyword)) {
      if (valueProblemAt.has(where)) continue;
      valueProblemAt.add(where);
      findings.push({
        path,
        at: "value",
        message: `${formatPath(path)}: ${valueProblem(error.parentSchema as JsonSchema, shown(path, error.data))}`,
      });
    } else if (error.keyword === "minItems" || error.keyword === "maxItems") {
      const limit = (error.params as { limit: number }).limit;
      const bound = error.keyword === "minItems" ? "at least" : "at most";
      findings.push({
        path,
        at: "value",
        message: `${formatPath(path)}: must list ${bound} ${limit} item${limit === 1 ? "" : "s"}`,
      });
    } else if (error.keyword === "anyOf" || error.keyword === "oneOf") {
      if (valueProblemAt.has(where)) continue;
      valueProblemAt.add(where);
      const branches = ((error.parentSchema as JsonSchema | undefined)?.[error.keyword] ??
        []) as JsonSchema[];
      // A union of literals is an enum in disguise: say which values are allowed.
      const consts = branches.every((b) => b.const !== undefined) ? branches.map((b) => b.const) : undefined;
      findings.push({
        path,
        at: "value",
        message: consts
          ? `${formatPath(path)}: ${valueProblem({ enum: consts }, shown(path, error.data))}`
          : `${formatPath(path)}: does not match any of the allowed forms`,
      });
    } else {
      findings.push({ path, at: "value", message: `${formatPath(path)}: ${error.message ?? "is invalid"}` });
    }
  }
  for (const { path, names } of missingAt.values()) {
    const list = names.map((n) => `"${n}"`).join(", ");
    const label = path.length === 0 ? "the document" : formatPath(path);
    findings.push({
      path,
      at: "key",
      message: `${label}: missing required field${names.length > 1 ? "s" : ""} ${list}`,
    });
  }
  return findings;
}

function unknownField(
  path: FieldPath,
  name: string,
  parent: JsonSchema,
  root: JsonSchema,
  base: FieldPath,
): string {
  const where = formatPath([...path, name]);
  if (!parent.properties && parent.patternProperties) {
    // A map whose keys follow a pattern (e.g. plan names): the key is not unknown, it is malformed.
    const pattern = Object.keys(parent.patternProperties)[0] ?? "";
    return `${where}: "${name}" is not a valid name here: must be ${PATTERN_DESCRIPTIONS[pattern] ?? `a string matching /${pattern}/`}`;
  }
  if (name === "<<") {
    return `${where}: YAML merge keys (<<) are not supported: write the fields out (or let a plan carry what tenants share)`;
  }
  const allowed = Object.keys(parent.properties ?? {}).filter((k) => k !== "$schema");
  const near = closest(name, allowed);
  if (near) return `${where}: unknown field "${name}" (did you mean "${near}"?)`;
  // A known field at the wrong level, e.g. `spec.replicas` instead of `spec.server.replicas`.
  const elsewhere = nearestPlaceOf(name, path.slice(base.length), root);
  if (elsewhere)
    return `${where}: unknown field "${name}" (did you mean ${formatPath([...base, ...elsewhere])}?)`;
  const hint = allowed.length > 0 ? `; allowed here: ${allowed.join(", ")}` : "";
  return `${where}: unknown field "${name}"${hint}`;
}

/** Never repeat a value that may be a credential (the secret scan reports it on its own). */
const HIDDEN = Symbol("hidden");

function shown(path: FieldPath, data: unknown): unknown {
  const key = path.at(-1);
  const secretish = typeof key === "string" && isSecretKey(key);
  if (typeof data === "string" && (secretish || secretKind(data) !== undefined)) return HIDDEN;
  return data;
}

const placesByRoot = new WeakMap<JsonSchema, Map<string, FieldPath[]>>();

/** Every place a field name is allowed in the schema (list items as index 0), indexed once per schema. */
function placesOf(root: JsonSchema): Map<string, FieldPath[]> {
  let places = placesByRoot.get(root);
  if (places) return places;
  places = new Map();
  const walk = (schema: JsonSchema, path: FieldPath, depth: number) => {
    if (depth > 12) return;
    for (const [key, child] of Object.entries(schema.properties ?? {})) {
      const childPath = [...path, key];
      places!.set(key, [...(places!.get(key) ?? []), childPath]);
      walk(child, childPath, depth + 1);
      if (child.items) walk(child.items as JsonSchema, [...childPath, 0], depth + 1);
    }
  };
  walk(root, [], 0);
  placesByRoot.set(root, places);
  return places;
}

/**
 * Where `name` belongs when it is not allowed at `path`: the place that shares the longest prefix with
 * `path`, when exactly one does (`name` alone is too common to guess between `owners[0].name` and others).
 */
function nearestPlaceOf(name: string, path: FieldPath, root: JsonSchema): FieldPath | undefined {
  const candidates = placesOf(root).get(name) ?? [];
  const shared = (p: FieldPath) => {
    let n = 0;
    while (
      n < p.length - 1 &&
      n < path.length &&
      (p[n] === path[n] || (p[n] === 0 && typeof path[n] === "number"))
    )
      n++;
    return n;
  };
  let best: FieldPath[] = [];
  let bestScore = -1;
  for (const candidate of candidates) {
    const score = shared(candidate);
    if (score > bestScore) [best, bestScore] = [[candidate], score];
    else if (score === bestScore) best.push(candidate);
  }
  if (best.length !== 1) return undefined;
  // Keep the user's own list indices where the place runs through the same list.
  return best[0]!.map((segment, i) => (segment === 0 && typeof path[i] === "number" ? path[i]! : segment));
}

/** `must be <what this place expects> (got <what the file says>)`. */
function valueProblem(schema: JsonSchema, data: unknown): string {
  const got = ` (got ${describeValue(data)})`;
  if (schema.pattern === QUANTITY_PATTERN && typeof data === "number") {
    return `must be a quantity written as a string: quote it, e.g. "${data}"`;
  }
  // YAML reads `1042`, `true` and `1.10` as numbers and booleans; a string field wants them quoted.
  if (schema.type === "string" && (typeof data === "number" || typeof data === "boolean")) {
    return `must be ${expected(schema)}: quote it, e.g. "${String(data)}" (got ${typeof data} ${String(data)})`;
  }
  if (Array.isArray(schema.enum)) {
    const options = (schema.enum as unknown[]).map((v) => JSON.stringify(v));
    const hint = typeof data === "string" ? didYouMean(data, (schema.enum as unknown[]).map(String)) : "";
    return `must be one of ${options.join(", ")}${got}${hint}`;
  }
  if (schema.const !== undefined) return `must be ${JSON.stringify(schema.const)}${got}`;
  return `must be ${expected(schema)}${got}`;
}

function expected(schema: JsonSchema): string {
  switch (schema.type) {
    case "integer":
    case "number":
      return `${schema.type === "integer" ? "an integer" : "a number"}${range(schema)}`;
    case "boolean":
      return "true or false";
    case "array":
      return "a list";
    case "object":
      return "a mapping of keys to values";
    case "string": {
      const parts: string[] = [];
      if (typeof schema.pattern === "string") {
        parts.push(PATTERN_DESCRIPTIONS[schema.pattern] ?? `a string matching /${schema.pattern}/`);
      } else if (schema.format === "email") parts.push("an email address");
      else parts.push("a string");
      if (typeof schema.maxLength === "number") parts.push(`at most ${schema.maxLength} characters`);
      if (typeof schema.minLength === "number" && schema.minLength > 0) parts.push("not empty");
      return parts.join(", ");
    }
    default:
      return "a valid value";
  }
}

function range(schema: JsonSchema): string {
  const bounds: string[] = [];
  if (typeof schema.minimum === "number") bounds.push(`≥ ${schema.minimum}`);
  if (typeof schema.maximum === "number") bounds.push(`≤ ${schema.maximum}`);
  return bounds.length > 0 ? ` ${bounds.join(" and ")}` : "";
}

export function describeValue(data: unknown): string {
  if (data === HIDDEN) return "a string, not shown as it may be a secret";
  if (data === null || data === undefined) return "an empty value";
  if (Array.isArray(data)) return "a list";
  if (typeof data === "object") return "a mapping";
  if (typeof data === "string") {
    const shown = data.length > 60 ? `${data.slice(0, 57)}...` : data;
    return data.length > 60 ? `${JSON.stringify(shown)}, ${data.length} characters` : JSON.stringify(shown);
  }
  return String(data);
}
