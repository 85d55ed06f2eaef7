/**
 * Everything one tenant gets, in its own cdk8s App: synthesizing a chart validates its whole App, so one App
 * per tenant keeps synth linear in the number of tenants (docs/adr/0001-one-app-per-tenant.md).
 */
import { App, Chart } from "cdk8s";
import type { ResolvedPlatform } from "../../contracts/resolved-tenant.ts";
import type { SynthTenant } from "../model/resolve.ts";
import { Backup } from "../constructs/backup.ts";
import { ControllerAccess } from "../constructs/controller-access.ts";
import { LogServer, SERVER_PORT_NAME } from "../constructs/log-server.ts";
import { NetworkPolicies } from "../constructs/network-policies.ts";
import { Redis } from "../constructs/redis.ts";
import { desiredStateConfigMap, type RenderedObject } from "../constructs/tenant-config.ts";
import { TenantNamespace } from "../constructs/tenant-namespace.ts";
import { ServiceMonitor } from "../constructs/service-monitor.ts";
import { selectorLabels, tenantAnnotations, tenantLabels } from "../constructs/metadata.ts";
import { objectNames, TENANT_LABEL } from "../../contracts/tenant-configmap.ts";
import { TenantResource } from "../constructs/tenant-resource.ts";

export class TenantChart extends Chart {
  constructor(scope: App, tenant: SynthTenant, platform: ResolvedPlatform) {
    super(scope, tenant.name, { disableResourceNameHashes: true });
    new TenantNamespace(this, "namespace", tenant);
    new TenantResource(this, "tenant", tenant);
    new NetworkPolicies(this, "network", tenant, platform);
    new ControllerAccess(this, "controller-access", tenant, platform);
    new Redis(this, "redis", tenant, platform);
    new LogServer(this, "server", tenant, platform);
    new Backup(this, "backup", tenant, platform);
    if (platform.monitoring?.prometheusOperator) {
      new ServiceMonitor(this, "server-monitor", {
        name: objectNames(tenant).server,
        namespace: tenant.namespace,
        labels: { ...tenantLabels(tenant, "server"), ...platform.monitoring.prometheusOperator.labels },
        annotations: tenantAnnotations(tenant, "server"),
        selector: selectorLabels(tenant, "server"),
        port: SERVER_PORT_NAME,
        // One server serves one tenant: its series get the tenant's name from the Service (platform-alerts.ts).
        targetLabelsFromService: { tenant: TENANT_LABEL },
      });
    }
  }
}

/**
 * The tenant's Kubernetes objects as JSON (cdk8s sorts keys, so the same tenant always gives the same JSON),
 * followed by the tenant ConfigMap built from them.
 */
export function tenantObjects(tenant: SynthTenant, platform: ResolvedPlatform): RenderedObject[] {
  // No outdir is ever written: the App exists only to synthesize this chart in memory.
  const objects = new TenantChart(new App(), tenant, platform).toJson() as RenderedObject[];
  return [...objects, desiredStateConfigMap(tenant, objects)];
}
