/**
 * The Tenant resource as synth renders it: a CRD whose schema is the tenant model's, translated into a structural
 * schema (the cluster test proves the API server accepts it; here, the rules that make it structural), one Tenant
 * per tenant carrying its file's spec, and the admission policy keeping Tenants on the GitOps path.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { platformObjects } from "../../charts-src/charts/platform-chart.ts";
import { tenantObjects } from "../../charts-src/charts/tenant-chart.ts";
import {
  StructuralSchemaError,
  structuralSchema,
  tenantCrdSchema,
} from "../../charts-src/model/crd-schema.ts";
import { loadTenantTree, validTree } from "../../charts-src/model/load.ts";
import { EXAMPLES_DIR } from "./tenant-sets.ts";

type Node = Record<string, unknown>;
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const tree = validTree(await loadTenantTree(EXAMPLES_DIR))!;
const platform = platformObjects(tree.platform) as Node[];
const crd = platform.find((o) => o.kind === "CustomResourceDefinition") as {
  spec: {
    versions: { schema: { openAPIV3Schema: Node }; subresources: Node; additionalPrinterColumns: Node[] }[];
  };
};

/** Every schema node with its path. */
function nodes(node: Node, path = ""): [string, Node][] {
  const children: [string, Node][] = [];
  for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, Node>))
    children.push(...nodes(child, `${path}.${name}`));
  if (node.items) children.push(...nodes(node.items as Node, `${path}[]`));
  if (typeof node.additionalProperties === "object")
    children.push(...nodes(node.additionalProperties as Node, `${path}.*`));
  return [[path, node], ...children];
}

describe("the Tenant CRD", () => {
  const schema = crd.spec.versions[0]!.schema.openAPIV3Schema;

  it("has a structural schema: every node typed, no keyword Kubernetes refuses", () => {
    const refused = [
      "patternProperties",
      "const",
      "$ref",
      "$schema",
      "$id",
      "anyOf",
      "oneOf",
      "allOf",
      "not",
    ];
    const problems = nodes(schema).flatMap(([path, node]) => [
      ...(node.type === undefined ? [`${path}: no type`] : []),
      ...refused.filter((k) => k in node).map((k) => `${path}: ${k}`),
      ...(node.properties && "additionalProperties" in node
        ? [`${path}: properties and additionalProperties`]
        : []),
    ]);
    expect(problems).toEqual([]);
  });

  it("keeps unknown fields only under the tenant's rules (checked by the server's rule validation)", () => {
    const open = nodes(schema)
      .filter(([, node]) => node["x-kubernetes-preserve-unknown-fields"] === true)
      .map(([path]) => path);
    expect(open).toEqual([".spec.server.rules[]"]);
  });

  it("is the tenant model's: an enum, a pattern, a limit and a required field of the file hold in the CRD", () => {
    const validate = addFormats(new Ajv({ strict: false, allErrors: true })).compile(schema);
    const file = parse(readFileSync(join(EXAMPLES_DIR, "acme.yaml"), "utf8")) as { spec: Node };
    const tenant = (spec: Node) => ({
      apiVersion: "neurallog.io/v1alpha1",
      kind: "Tenant",
      metadata: {},
      spec,
    });
    expect(validate(tenant(file.spec)), JSON.stringify(validate.errors)).toBe(true);
    const wrong = {
      ...file.spec,
      owners: [{ kind: "Team", name: "x" }],
      namespace: "Not_A_Label",
      server: { replicas: 0 },
    };
    expect(validate(tenant(wrong))).toBe(false);
    expect(validate.errors!.map((e) => e.instancePath).sort()).toEqual([
      "/spec/namespace",
      "/spec/owners/0/kind",
      "/spec/server/replicas",
    ]);
    const { owners: _owners, ...ownerless } = file.spec;
    expect(validate(tenant(ownerless))).toBe(false);
  });

  it("translates const to enum and refuses what it cannot enforce", () => {
    expect(structuralSchema({ type: "string", const: "volume" })).toEqual({
      type: "string",
      enum: ["volume"],
    });
    expect(structuralSchema({ enum: ["a", "b"] })).toEqual({ enum: ["a", "b"], type: "string" });
    expect(() =>
      structuralSchema({ type: "object", patternProperties: { "^x-": { type: "string" } } }, "spec.labels"),
    ).toThrow(new StructuralSchemaError("spec.labels: key patterns ^x- cannot be a CRD map"));
    expect(() => structuralSchema({ type: "number", exclusiveMinimum: 0 }, "spec.x")).toThrow(
      'spec.x: JSON Schema keyword "exclusiveMinimum" has no CRD translation',
    );
  });

  it("writes status through a subresource and shows the operator's columns", () => {
    const version = crd.spec.versions[0]!;
    expect(version.subresources).toEqual({ status: {} });
    expect(version.additionalPrinterColumns.map((c) => c.name)).toEqual([
      "Plan",
      "Phase",
      "Ready",
      "Last Backup",
      "Quota",
      "Drift",
      "Age",
    ]);
    expect(tenantCrdSchema()).toEqual(schema);
  });
});

describe("the Tenant objects", () => {
  it("are one per tenant, in its namespace, with the file's spec as written", () => {
    for (const tenant of tree.tenants) {
      const objects = tenantObjects(tenant, tree.platform).filter((o) => o.kind === "Tenant");
      const file = parse(readFileSync(join(EXAMPLES_DIR, `${tenant.name}.yaml`), "utf8")) as { spec: Node };
      expect(objects).toHaveLength(1);
      expect(objects[0]!.metadata).toMatchObject({ name: tenant.name, namespace: tenant.namespace });
      expect(objects[0]!.spec).toEqual(file.spec);
    }
  });
});

describe("the Tenant admission policy", () => {
  const policy = platform.find(
    (o) =>
      o.kind === "ValidatingAdmissionPolicy" && (o.metadata as Node).name === "neurallog-tenants-from-git",
  ) as { spec: { matchConstraints: { resourceRules: Node[] }; validations: { expression: string }[] } };

  it("matches Tenant writes on the main resource only, so the controller's status writes pass", () => {
    expect(policy.spec.matchConstraints.resourceRules).toEqual([
      {
        apiGroups: ["neurallog.io"],
        apiVersions: ["*"],
        operations: ["CREATE", "UPDATE"],
        resources: ["tenants"],
      },
    ]);
  });

  it("admits only Argo CD's application-controller, in the platform's Argo CD namespace", () => {
    expect(policy.spec.validations[0]!.expression).toBe(
      `request.userInfo.username in ["system:serviceaccount:${tree.platform.argocd.namespace}:argocd-application-controller"]`,
    );
  });
});
