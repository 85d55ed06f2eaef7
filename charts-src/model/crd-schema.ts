/**
 * The Tenant CRD's `openAPIV3Schema`, generated from the same TypeBox model as `schemas/tenant.schema.json`
 * (`TenantSpec` for the spec, `contracts/tenant-status.ts` for the status), so the tenant file, its editor schema
 * and the cluster's resource cannot disagree.
 *
 * Kubernetes wants a *structural* schema (every node typed, no `patternProperties`, no `const`, no
 * `additionalProperties: false` beside `properties`), so the JSON Schema is translated node by node:
 * - `const: v` becomes `enum: [v]`; an `enum` without `type` gets the type of its values;
 * - a map (`patternProperties` with the match-all pattern TypeBox's `Record` emits) becomes
 *   `additionalProperties: <value schema>`; any other key pattern is refused here (it could not be enforced);
 * - `additionalProperties: false` is dropped: the API server prunes unknown fields, and a strict apply
 *   (Argo CD's, kubectl's default) refuses them with `field not declared in schema`;
 * - an object open to anything (`additionalProperties: true`, the tenant's `server.rules`, checked by the
 *   server's own rule validation) gets `x-kubernetes-preserve-unknown-fields: true`, the one place it is needed.
 * Any keyword not handled here throws, naming the path: a new keyword in the model must be translated on purpose.
 */
import { TenantStatusSchema } from "../../contracts/tenant-status.ts";
import { TenantSpec } from "./tenant-schema.ts";

export type SchemaNode = Record<string, unknown>;

/** Keywords Kubernetes accepts as they are. */
const KEPT = new Set([
  "type",
  "description",
  "title",
  "required",
  "enum",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "minItems",
  "maxItems",
  "format",
]);
/** The key pattern of TypeBox's `Type.Record(Type.String(), ...)`. */
const ANY_KEY = new Set(["^.*$", "^(.*)$"]);

export class StructuralSchemaError extends Error {}

/** A JSON Schema node (as TypeBox emits it) as a structural schema for a CRD. */
export function structuralSchema(node: SchemaNode, path = "spec"): SchemaNode {
  const out: SchemaNode = {};
  for (const [keyword, value] of Object.entries(node)) {
    if (KEPT.has(keyword)) out[keyword] = value;
    else if (keyword === "const") out.enum = [value];
    else if (keyword === "properties") {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, SchemaNode>).map(([name, child]) => [
          name,
          structuralSchema(child, `${path}.${name}`),
        ]),
      );
    } else if (keyword === "items") out.items = structuralSchema(value as SchemaNode, `${path}[]`);
    else if (keyword === "patternProperties") {
      const entries = Object.entries(value as Record<string, SchemaNode>);
      if (entries.length !== 1 || !ANY_KEY.has(entries[0]![0]))
        throw new StructuralSchemaError(
          `${path}: key patterns ${entries.map(([p]) => p).join(", ")} cannot be a CRD map`,
        );
      out.additionalProperties = structuralSchema(entries[0]![1], `${path}.*`);
    } else if (keyword === "additionalProperties") {
      if (value === true) out["x-kubernetes-preserve-unknown-fields"] = true;
      else if (typeof value === "object")
        out.additionalProperties = structuralSchema(value as SchemaNode, `${path}.*`);
      // false: pruning and strict field validation do what it says
    } else
      throw new StructuralSchemaError(`${path}: JSON Schema keyword "${keyword}" has no CRD translation`);
  }
  if (out["x-kubernetes-preserve-unknown-fields"] && isEmpty(out.properties)) delete out.properties;
  if (out.type === undefined && Array.isArray(out.enum)) out.type = enumType(out.enum, path);
  if (out.type === undefined)
    throw new StructuralSchemaError(`${path}: no type (a structural schema needs one)`);
  return out;
}

function isEmpty(value: unknown): boolean {
  return value !== undefined && Object.keys(value as object).length === 0;
}

function enumType(values: readonly unknown[], path: string): string {
  const types = new Set(values.map((v) => (Number.isInteger(v) ? "integer" : typeof v)));
  const [type] = types;
  if (types.size !== 1 || !["string", "integer", "boolean"].includes(type!))
    throw new StructuralSchemaError(`${path}: enum of mixed or unsupported types`);
  return type!;
}

/** TypeBox schemas carry non-enumerable markers; a JSON round trip gives the plain schema published in schemas/. */
const plain = (schema: object) => JSON.parse(JSON.stringify(schema)) as SchemaNode;

/** The conditions list is a map keyed by type, so server-side apply merges conditions instead of replacing. */
function withConditionsMap(status: SchemaNode): SchemaNode {
  const properties = status.properties as Record<string, SchemaNode>;
  return {
    ...status,
    properties: {
      ...properties,
      conditions: {
        ...properties.conditions,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
      },
    },
  };
}

/** The whole object's schema: the tenant file's spec, the controller's status. */
export function tenantCrdSchema(): SchemaNode {
  return {
    type: "object",
    description:
      "A NeuralLog tenant: its file's spec (rendered from git by neurallog synth) and its health (written by the controller)",
    required: ["spec"],
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object" },
      spec: structuralSchema(plain(TenantSpec), "spec"),
      status: withConditionsMap(structuralSchema(plain(TenantStatusSchema), "status")),
    },
  };
}
