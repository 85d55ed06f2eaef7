/**
 * `OUT/platform/`: what the platform runs once for all tenants: the controller, the tenant pod admission policy,
 * the Tenant resource (its CRD and the policy keeping Tenants on the GitOps path), and, where the platform file
 * enables them, the alerts, the controller's scrape target and the dashboard.
 */
import { App, Chart } from "cdk8s";
import { MANAGED_BY, PART_OF } from "../../contracts/tenant-configmap.ts";
import type { ResolvedPlatform } from "../../contracts/resolved-tenant.ts";
import { Controller, CONTROLLER_METRICS_PORT_NAME } from "../constructs/controller.ts";
import { CONTROLLER_NAME } from "../constructs/controller-access.ts";
import { PlatformAlerts } from "../constructs/platform-alerts.ts";
import { PlatformDashboard } from "../constructs/platform-dashboard.ts";
import { PodAdmissionPolicy } from "../constructs/pod-admission-policy.ts";
import { ServiceMonitor } from "../constructs/service-monitor.ts";
import { TenantDefinition } from "../constructs/tenant-resource.ts";

export class PlatformChart extends Chart {
  constructor(scope: App, platform: ResolvedPlatform) {
    super(scope, "platform", { disableResourceNameHashes: true });
    const controller = new Controller(this, "controller", platform);
    new PodAdmissionPolicy(this, "pod-admission");
    new TenantDefinition(this, "tenant-resource", platform);
    const monitoring = platform.monitoring;
    const namespace = platform.controller.namespace;
    const labels = (component: string) => ({
      "app.kubernetes.io/name": "neurallog",
      "app.kubernetes.io/component": component,
      "app.kubernetes.io/part-of": PART_OF,
      "app.kubernetes.io/managed-by": MANAGED_BY,
    });
    if (monitoring?.prometheusOperator) {
      const operatorLabels = monitoring.prometheusOperator.labels;
      new PlatformAlerts(this, "alerts", {
        namespace,
        labels: { ...labels("alerts"), ...operatorLabels },
        runbookBaseURL: monitoring.prometheusOperator.runbookBaseURL,
      });
      new ServiceMonitor(this, "controller-monitor", {
        name: CONTROLLER_NAME,
        namespace,
        labels: { ...labels("controller"), ...operatorLabels },
        selector: controller.metricsServiceLabels,
        port: CONTROLLER_METRICS_PORT_NAME,
      });
    }
    if (monitoring?.grafanaDashboards) {
      new PlatformDashboard(this, "dashboard", {
        namespace,
        labels: { ...labels("dashboard"), ...monitoring.grafanaDashboards.labels },
        folder: monitoring.grafanaDashboards.folder,
      });
    }
  }
}

export function platformObjects(platform: ResolvedPlatform): Record<string, unknown>[] {
  return new PlatformChart(new App(), platform).toJson();
}
