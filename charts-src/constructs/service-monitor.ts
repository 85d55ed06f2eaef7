/**
 * A ServiceMonitor (Prometheus operator): Prometheus scrapes `/metrics` on a named port of the Services it selects.
 * Rendered only where the platform file says the operator runs (spec.monitoring.prometheusOperator); the
 * NetworkPolicies already admit the monitoring namespace to exactly these ports.
 */
import { ApiObject } from "cdk8s";
import { Construct } from "constructs";

export interface ServiceMonitorProps {
  readonly name: string;
  readonly namespace: string;
  /** The object's labels: the standard ones and those the Prometheus resource's serviceMonitorSelector matches. */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Labels of the Service(s) to scrape. */
  readonly selector: Readonly<Record<string, string>>;
  /** The Service's port name. */
  readonly port: string;
  /**
   * Labels put on every scraped series from the Service's own labels: target label → Service label. Default none.
   * (How a per-tenant server's metrics get their `tenant` label.)
   */
  readonly targetLabelsFromService?: Readonly<Record<string, string>>;
  /** Default 30s. */
  readonly interval?: string;
}

/** Prometheus' discovery label of a Service label: `neurallog.io/tenant` → `__meta_kubernetes_service_label_neurallog_io_tenant`. */
export function serviceLabelMeta(label: string): string {
  return `__meta_kubernetes_service_label_${label.replace(/[^a-zA-Z0-9_]/g, "_")}`;
}

export class ServiceMonitor extends Construct {
  constructor(scope: Construct, id: string, props: ServiceMonitorProps) {
    super(scope, id);
    const relabelings = Object.entries(props.targetLabelsFromService ?? {}).map(([target, label]) => ({
      action: "replace",
      sourceLabels: [serviceLabelMeta(label)],
      targetLabel: target,
    }));
    new ApiObject(this, "monitor", {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "ServiceMonitor",
      metadata: {
        name: props.name,
        namespace: props.namespace,
        labels: { ...props.labels },
        ...(props.annotations ? { annotations: { ...props.annotations } } : {}),
      },
      spec: {
        selector: { matchLabels: { ...props.selector } },
        namespaceSelector: { matchNames: [props.namespace] },
        endpoints: [
          {
            port: props.port,
            path: "/metrics",
            interval: props.interval ?? "30s",
            ...(relabelings.length ? { relabelings } : {}),
          },
        ],
      },
    });
  }
}
