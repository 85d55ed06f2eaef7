import { describe, expect, it } from "vitest";
import { parseWarningHeader } from "./object-api.ts";

describe("parseWarningHeader", () => {
  it("splits warnings joined by the HTTP client, keeping commas inside a warning's text", () => {
    const header =
      '299 - "would violate PodSecurity \\"restricted:latest\\": privileged (container \\"c\\" must not set securityContext.privileged=true), allowPrivilegeEscalation != false", ' +
      '299 - "spec.template.spec.containers[0].env[1]: hides previous definition of \\"A\\""';
    expect(parseWarningHeader(header)).toEqual([
      'would violate PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true), allowPrivilegeEscalation != false',
      'spec.template.spec.containers[0].env[1]: hides previous definition of "A"',
    ]);
  });

  it("returns nothing without a header and keeps a malformed one whole", () => {
    expect(parseWarningHeader(undefined)).toEqual([]);
    expect(parseWarningHeader("something odd")).toEqual(["something odd"]);
  });
});
