import { describe, expect, it } from "vitest";
import { isQuotaConflict } from "./apply-manifests.ts";

// The body the API server sent in a clean-clone CI run (gen-08, 2026-12-03), byte for byte.
const QUOTA_CONFLICT =
  '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be fulfilled ' +
  'on resourcequotas \\"neurallog-quota\\": the object has been modified; please apply your changes to the ' +
  'latest version and try again","reason":"Conflict","details":{"name":"neurallog-quota","kind":"resourcequotas"},' +
  '"code":409}';

describe("isQuotaConflict", () => {
  it("recognises quota admission's optimistic-concurrency conflict in the API server's Status", () => {
    expect(isQuotaConflict({ status: 409, body: QUOTA_CONFLICT })).toBe(true);
  });

  it("leaves every other refusal alone: a field-manager conflict, another status, a body that is not JSON", () => {
    const managerConflict = JSON.stringify({
      kind: "Status",
      status: "Failure",
      message: 'Apply failed with 1 conflict: conflict with "argocd-controller": .spec.replicas',
      reason: "Conflict",
      code: 409,
    });
    expect(isQuotaConflict({ status: 409, body: managerConflict })).toBe(false);
    expect(isQuotaConflict({ status: 422, body: QUOTA_CONFLICT })).toBe(false);
    expect(isQuotaConflict({ status: 409, body: "Operation cannot be fulfilled on resourcequotas" })).toBe(
      false,
    );
  });
});
