/**
 * What Pod Security `restricted` does not check and every NeuralLog pod promises: a read-only root file system.
 * A ValidatingAdmissionPolicy (CEL, in the API server: no webhook to run) refuses, in every tenant namespace
 * (label `neurallog.io/tenant`), a pod with a container or init container whose root file system is writable, so
 * a hand-made pod or a changed manifest cannot quietly give up what the rendered security context sets. Ephemeral
 * containers (`kubectl debug`) go through a subresource this policy does not match, on purpose. ADR 0007.
 */
import { ApiObject } from "cdk8s";
import { Construct } from "constructs";
import { MANAGED_BY, PART_OF, TENANT_LABEL } from "../../contracts/tenant-configmap.ts";

export const READ_ONLY_ROOT_POLICY = "neurallog-read-only-root";

/** The containers (init containers too) whose root file system is writable: not explicitly read-only. */
const WRITABLE =
  "(has(object.spec.initContainers) ? object.spec.initContainers : []) + object.spec.containers)" +
  ".filter(c, !has(c.securityContext) || !has(c.securityContext.readOnlyRootFilesystem) ||" +
  " !c.securityContext.readOnlyRootFilesystem)";

export class PodAdmissionPolicy extends Construct {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    const labels = {
      "app.kubernetes.io/name": "neurallog",
      "app.kubernetes.io/component": "admission",
      "app.kubernetes.io/part-of": PART_OF,
      "app.kubernetes.io/managed-by": MANAGED_BY,
    };
    new ApiObject(this, "policy", {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name: READ_ONLY_ROOT_POLICY, labels },
      spec: {
        // A broken expression refuses the pod rather than letting it through.
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [
            { apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["pods"] },
          ],
        },
        validations: [
          {
            expression: `(${WRITABLE}.size() == 0`,
            messageExpression:
              `'NeuralLog tenant pods run with a read-only root file system: set ` +
              `securityContext.readOnlyRootFilesystem: true on container(s) ' + (${WRITABLE}.map(c, c.name).join(', ')` +
              ` + ' (write to an emptyDir volume such as /tmp instead)'`,
            reason: "Forbidden",
          },
        ],
      },
    });
    new ApiObject(this, "binding", {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name: READ_ONLY_ROOT_POLICY, labels },
      spec: {
        policyName: READ_ONLY_ROOT_POLICY,
        validationActions: ["Deny"],
        matchResources: {
          namespaceSelector: { matchExpressions: [{ key: TENANT_LABEL, operator: "Exists" }] },
        },
      },
    });
  }
}
