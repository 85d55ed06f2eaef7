/**
 * Placement (nodeSelector, tolerations, node affinity) of the server, Redis and backup pods, and of the
 * controller's: the rules the API server applies to these fields (core/v1 validation) that the JSON Schema
 * cannot say, so a placement that passes `validate` is not refused when Argo CD applies it, and one that could never schedule is caught here.
 */
import type { FieldPath } from "../field-path.ts";
import type {
  NodeSelectorTermInput,
  PlacementInput,
  PlanSpecInput,
  TolerationInput,
} from "../tenant-schema.ts";
import { labelValueProblem, qualifiedKeyProblem } from "./kubernetes-names.ts";
import { isWritten } from "../yaml-source.ts";
import type { Report } from "./report.ts";

export const PLACED_PARTS = ["server", "redis", "backup"] as const;

export function checkPlacement(parts: PlanSpecInput, base: FieldPath, report: Report): void {
  for (const part of PLACED_PARTS) {
    const spec = parts[part];
    if (spec) checkPodPlacement(spec, [...base, part], report);
  }
}

/** One workload's placement at `base` (a tenant or plan part, or the platform's controller). */
export function checkPodPlacement(spec: PlacementInput, base: FieldPath, report: Report): void {
  const at = (...path: (string | number)[]): FieldPath => [...base, ...path];
  for (const [key, value] of Object.entries(spec.nodeSelector ?? {})) {
    const keyProblem = qualifiedKeyProblem(key);
    if (keyProblem) report.error(at("nodeSelector", key), keyProblem, { at: "key" });
    const valueProblem = labelValueProblem(value);
    if (valueProblem) report.error(at("nodeSelector", key), valueProblem);
  }
  (spec.tolerations ?? []).forEach((toleration, i) =>
    checkToleration(toleration, at("tolerations", i), report),
  );
  const nodeAffinity = spec.affinity?.nodeAffinity;
  (nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []).forEach((term, i) =>
    checkTerm(
      term,
      at(
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
        i,
      ),
      report,
    ),
  );
  (nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).forEach((preferred, i) =>
    checkTerm(
      preferred.preference,
      at("affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", i, "preference"),
      report,
    ),
  );
}

function checkToleration(toleration: TolerationInput, path: FieldPath, report: Report): void {
  const operator = toleration.operator ?? "Equal";
  const key = toleration.key ?? "";
  if (key === "") {
    if (operator !== "Exists") {
      report.error(
        path,
        'a toleration without a key must have operator "Exists" (it then tolerates every taint)',
      );
    }
  } else {
    const problem = qualifiedKeyProblem(key);
    if (problem) report.error([...path, "key"], problem);
  }
  const value = toleration.value ?? "";
  if (operator === "Exists" && value !== "") {
    report.error(
      [...path, "value"],
      `operator "Exists" tolerates any value; leave value out or use operator "Equal"`,
    );
  } else if (value !== "") {
    const problem = labelValueProblem(value);
    if (problem) report.error([...path, "value"], problem.replace("a label value", "a taint value"));
  }
  if (toleration.tolerationSeconds !== undefined && toleration.effect !== "NoExecute") {
    report.error(
      [...path, "tolerationSeconds"],
      `tolerationSeconds only applies to effect "NoExecute"${toleration.effect ? ` (got "${toleration.effect}")` : ""}`,
    );
  }
}

function checkTerm(term: NodeSelectorTermInput, path: FieldPath, report: Report): void {
  // Judged on what the file says: a list set aside because its entries broke the schema is reported there.
  const written = (list: "matchExpressions" | "matchFields") =>
    (term[list] ?? []).length > 0 || isWritten(report.source, [...path, list, 0]);
  if (!written("matchExpressions") && !written("matchFields")) {
    report.error(
      path,
      "an empty node selector term matches no node; give it matchExpressions or matchFields",
    );
  }
  (term.matchExpressions ?? []).forEach((requirement, i) => {
    const at = [...path, "matchExpressions", i];
    const keyProblem = qualifiedKeyProblem(requirement.key);
    if (keyProblem) report.error([...at, "key"], keyProblem);
    const values = requirement.values ?? [];
    switch (requirement.operator) {
      case "In":
      case "NotIn":
        if (values.length === 0)
          report.error(at, `operator "${requirement.operator}" needs at least one value`);
        values.forEach((value, j) => {
          const problem = labelValueProblem(value);
          if (problem) report.error([...at, "values", j], problem);
        });
        break;
      case "Exists":
      case "DoesNotExist":
        if (values.length > 0)
          report.error([...at, "values"], `operator "${requirement.operator}" takes no values`);
        break;
      case "Gt":
      case "Lt":
        if (values.length !== 1 || !/^-?[0-9]+$/.test(values[0] ?? "")) {
          report.error(
            values.length === 0 ? at : [...at, "values"],
            `operator "${requirement.operator}" needs exactly one integer value`,
          );
        }
        break;
    }
  });
  (term.matchFields ?? []).forEach((requirement, i) => {
    const at = [...path, "matchFields", i];
    if (requirement.key !== "metadata.name") {
      report.error([...at, "key"], `matchFields can only select "metadata.name" (got "${requirement.key}")`);
    }
    if (requirement.operator !== "In" && requirement.operator !== "NotIn") {
      report.error(
        [...at, "operator"],
        `matchFields takes operator "In" or "NotIn" (got "${requirement.operator}")`,
      );
    } else if ((requirement.values ?? []).length !== 1) {
      report.error(at, "matchFields needs exactly one value: the node name");
    }
  });
}
