/**
 * The NeuralLog Grafana dashboard, as a ConfigMap Grafana's dashboard sidecar loads (kube-prometheus-stack: label
 * `grafana_dashboard: "1"`; the folder from the `grafana_folder` annotation where the sidecar's folderAnnotation
 * is set). One row per question an operator asks: is data coming in, is it refused, are queries fast, do rules
 * fire, are backups fresh, is anyone near a limit. A `tenant` variable narrows every panel.
 *
 * Panel queries use the same metrics and labels as the alerts (platform-alerts.ts); platform-alerts.test.ts
 * parses each with promtool.
 */
import { ApiObject } from "cdk8s";
import { Construct } from "constructs";

export const DASHBOARD_UID = "neurallog-platform";
export const DASHBOARD_CONFIGMAP = "neurallog-grafana-dashboard";
export const DASHBOARD_FILE = "neurallog.json";

export interface DashboardPanel {
  readonly title: string;
  readonly description: string;
  /** Grafana's unit id (short, reqps, s, percentunit, bytes). */
  readonly unit: string;
  /** PromQL; `$tenant` and `$__rate_interval` are Grafana variables. */
  readonly queries: readonly { readonly expr: string; readonly legend: string }[];
}

const T = 'tenant=~"$tenant"';

/**
 * Reads (the query latency panel): GET requests, but not the operational endpoints or the live tails, whose
 * "latency" is how long a client stayed connected. Ingest is POST on every endpoint.
 */
const READ_ROUTES =
  'method="GET", route!~"/metrics|/healthz|/readyz|unmatched|/api/v1/logs/stream|/loki/api/v1/tail"';

export const DASHBOARD_PANELS: readonly DashboardPanel[] = [
  {
    title: "Ingest rate",
    description: "Logs stored per second, by tenant and endpoint (native, loki, otlp, elasticsearch).",
    unit: "short",
    queries: [
      {
        expr: `sum by (tenant, endpoint) (rate(neurallog_ingested_logs_total{${T}}[$__rate_interval]))`,
        legend: "{{tenant}} {{endpoint}}",
      },
    ],
  },
  {
    title: "Rejects",
    description:
      "Refused entries and requests per second, by tenant and reason; refused logs are not stored.",
    unit: "short",
    queries: [
      {
        expr: `sum by (tenant, reason) (rate(neurallog_rejected_total{${T}}[$__rate_interval]))`,
        legend: "{{tenant}} {{reason}}",
      },
    ],
  },
  {
    title: "Query latency (p50, p99)",
    description: "Latency of the read API (search, Loki read, rules, alerts), by tenant.",
    unit: "s",
    queries: [0.5, 0.99].map((q) => ({
      expr: `histogram_quantile(${q}, sum by (le, tenant) (rate(neurallog_http_request_duration_seconds_bucket{${T}, ${READ_ROUTES}}[$__rate_interval])))`,
      legend: `{{tenant}} p${q * 100}`,
    })),
  },
  {
    title: "Server errors",
    description: "Share of requests answered with a 5xx, by tenant (alert NeuralLogServerErrors above 5%).",
    unit: "percentunit",
    queries: [
      {
        expr: `sum by (tenant) (rate(neurallog_http_request_duration_seconds_count{${T}, status_code=~"5.."}[$__rate_interval])) / sum by (tenant) (rate(neurallog_http_request_duration_seconds_count{${T}}[$__rate_interval]))`,
        legend: "{{tenant}}",
      },
    ],
  },
  {
    title: "Rule firings",
    description: "Alerts opened by the tenants' rules per interval.",
    unit: "short",
    queries: [
      {
        expr: `sum by (tenant) (increase(neurallog_alerts_fired_total{${T}}[$__rate_interval]))`,
        legend: "{{tenant}}",
      },
    ],
  },
  {
    title: "Backup age",
    description:
      "Time since each tenant's last successful backup (alert NeuralLogBackupStale past 2 intervals).",
    unit: "s",
    queries: [{ expr: `max by (tenant) (neurallog_backup_age_seconds{${T}})`, legend: "{{tenant}}" }],
  },
  {
    title: "Quota use",
    description: "Highest used/hard ratio of each quota resource, by tenant (alerts at 90% and 100%).",
    unit: "percentunit",
    queries: [
      {
        expr: `max by (tenant, resource) (neurallog_quota_used_ratio{${T}})`,
        legend: "{{tenant}} {{resource}}",
      },
    ],
  },
  {
    title: "Redis memory",
    description: "Each tenant's Redis used_memory / maxmemory (at 100% Redis refuses writes).",
    unit: "percentunit",
    queries: [
      {
        expr: `max by (tenant) (neurallog_redis_memory_used_bytes{${T}}) / max by (tenant) (neurallog_redis_memory_max_bytes{${T}} > 0)`,
        legend: "{{tenant}}",
      },
    ],
  },
];

/** The dashboard model (Grafana schemaVersion 39): time series panels in a two-column grid. */
export function dashboardModel(
  panels: readonly DashboardPanel[] = DASHBOARD_PANELS,
): Record<string, unknown> {
  const datasource = { type: "prometheus", uid: "${datasource}" };
  return {
    uid: DASHBOARD_UID,
    title: "NeuralLog",
    description:
      "NeuralLog tenants: ingest, rejects, query latency, rule firings, backups, quotas, Redis memory.",
    tags: ["neurallog"],
    schemaVersion: 39,
    editable: false,
    refresh: "1m",
    time: { from: "now-6h", to: "now" },
    templating: {
      list: [
        { name: "datasource", label: "Data source", type: "datasource", query: "prometheus" },
        {
          name: "tenant",
          label: "Tenant",
          type: "query",
          datasource,
          query: { query: "label_values(neurallog_ingested_logs_total, tenant)", refId: "tenants" },
          refresh: 2,
          includeAll: true,
          multi: true,
          current: { text: "All", value: "$__all" },
        },
      ],
    },
    panels: panels.map((panel, i) => ({
      id: i + 1,
      type: "timeseries",
      title: panel.title,
      description: panel.description,
      datasource,
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
      targets: panel.queries.map((q, j) => ({
        refId: String.fromCharCode(65 + j),
        datasource,
        expr: q.expr,
        legendFormat: q.legend,
      })),
    })),
  };
}

export interface PlatformDashboardProps {
  readonly namespace: string;
  /** The standard labels and those Grafana's sidecar selects by. */
  readonly labels: Readonly<Record<string, string>>;
  readonly folder: string;
}

export class PlatformDashboard extends Construct {
  constructor(scope: Construct, id: string, props: PlatformDashboardProps) {
    super(scope, id);
    new ApiObject(this, "configmap", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: DASHBOARD_CONFIGMAP,
        namespace: props.namespace,
        labels: { ...props.labels },
        annotations: { grafana_folder: props.folder },
      },
      data: { [DASHBOARD_FILE]: JSON.stringify(dashboardModel(), null, 2) },
    });
  }
}
