/** `OUT/platform/`: what the platform runs once for all tenants: the controller and the tenant pod admission policy. */
import { App, Chart } from "cdk8s";
import type { ResolvedPlatform } from "../../contracts/resolved-tenant.ts";
import { Controller } from "../constructs/controller.ts";
import { PodAdmissionPolicy } from "../constructs/pod-admission-policy.ts";

export class PlatformChart extends Chart {
  constructor(scope: App, platform: ResolvedPlatform) {
    super(scope, "platform", { disableResourceNameHashes: true });
    new Controller(this, "controller", platform);
    new PodAdmissionPolicy(this, "pod-admission");
  }
}

export function platformObjects(platform: ResolvedPlatform): Record<string, unknown>[] {
  return new PlatformChart(new App(), platform).toJson();
}
