/**
 * The platform's alerts: one PrometheusRule (Prometheus operator, kube-prometheus conventions: `severity` label,
 * `summary`/`description`/`runbook_url` annotations) over the metrics the servers and the controller export.
 * Every alert names its tenant, says what to do in its description, and links to a runbook in docs/runbooks/alerts/.
 * `promtool check rules` and `promtool test rules` run over the rendered rule (platform-alerts.test.ts).
 *
 * Server metrics carry no tenant label of their own (one server serves one tenant): the ServiceMonitor copies the
 * Service's `neurallog.io/tenant` label onto every series as `tenant` (service-monitor.ts). Controller metrics name
 * the tenant themselves. Both replicas of the controller export the same gauges, so they are read with `max by`.
 */
import { ApiObject } from "cdk8s";
import { Construct } from "constructs";

export interface PlatformAlert {
  readonly alert: string;
  readonly expr: string;
  /** How long the condition must hold before the alert fires. */
  readonly for: string;
  readonly severity: "warning" | "critical";
  readonly summary: string;
  /** What it means and what to do; `{{ $labels.x }}` and `{{ $value }}` are Prometheus templates. */
  readonly description: string;
  /** The runbook file in docs/runbooks/alerts/, without `.md`. */
  readonly runbook: string;
}

/** Share of a tenant's requests over 5 minutes that ended in a 5xx. */
const SERVER_ERROR_RATIO = `sum by (tenant) (rate(neurallog_http_request_duration_seconds_count{status_code=~"5.."}[5m]))
/
sum by (tenant) (rate(neurallog_http_request_duration_seconds_count[5m]))`;

/**
 * Share of what a tenant's shippers sent over 10 minutes that was refused. A tenant that stored nothing has no
 * ingested series at all: `or ... * 0` gives it a zero there, so "everything refused" is a ratio of 1, not absent.
 */
const REJECT_RATIO = `sum by (tenant) (rate(neurallog_rejected_total[10m]))
/
(
  sum by (tenant) (rate(neurallog_rejected_total[10m]))
  +
  (sum by (tenant) (rate(neurallog_ingested_logs_total[10m])) or sum by (tenant) (rate(neurallog_rejected_total[10m])) * 0)
)`;

/** The alerts, in the order operators meet them: data safety, capacity, configuration, serving, delivery. */
export const PLATFORM_ALERTS: readonly PlatformAlert[] = [
  {
    alert: "NeuralLogBackupMissing",
    expr: "max by (tenant) (neurallog_backup_missing) == 1",
    for: "10m",
    severity: "critical",
    summary: "Tenant {{ $labels.tenant }} has never had a successful backup, and the first one is overdue.",
    description:
      "The backup CronJob of tenant {{ $labels.tenant }} has not succeeded once since the tenant was created, past its schedule and grace period. Its logs exist only in Redis. Look at the CronJob's Jobs and their pods' logs.",
    runbook: "neurallog-backup-missing",
  },
  {
    alert: "NeuralLogBackupStale",
    expr: "max by (tenant) (neurallog_backup_stale) == 1",
    for: "10m",
    severity: "critical",
    summary: "Tenant {{ $labels.tenant }} has no successful backup within twice its backup interval.",
    description:
      "The last successful backup of tenant {{ $labels.tenant }} is older than twice its schedule interval (or its backup CronJob is gone): a restore now would lose more than the plan promises. Find why recent backup Jobs failed.",
    runbook: "neurallog-backup-stale",
  },
  {
    alert: "NeuralLogControllerDown",
    expr: "absent(max(neurallog_leader) == 1)",
    for: "10m",
    severity: "critical",
    summary: "No NeuralLog controller replica is leading.",
    description:
      "No controller replica reports itself leader: nobody checks backups, quotas or drift, and new tenants get no Redis password Secret. Check the controller Deployment and its Lease.",
    runbook: "neurallog-controller-down",
  },
  {
    alert: "NeuralLogQuotaNearLimit",
    expr: "max by (tenant, resource) (neurallog_quota_used_ratio) >= 0.9",
    for: "15m",
    severity: "warning",
    summary:
      "Tenant {{ $labels.tenant }} uses {{ $value | humanizePercentage }} of its {{ $labels.resource }} quota.",
    description:
      "Tenant {{ $labels.tenant }} is near its {{ $labels.resource }} quota: the next rollout, scale-up or backup Job may be refused. Move it to a larger plan or raise the quota in its tenant file.",
    runbook: "neurallog-quota-near-limit",
  },
  {
    alert: "NeuralLogQuotaExhausted",
    expr: "max by (tenant, resource) (neurallog_quota_used_ratio) >= 1",
    for: "5m",
    severity: "critical",
    summary: "Tenant {{ $labels.tenant }} has used all of its {{ $labels.resource }} quota.",
    description:
      "Tenant {{ $labels.tenant }} is at its {{ $labels.resource }} quota: Kubernetes refuses any new pod that needs more (rollouts stall, backup Jobs cannot start). Raise the quota or the plan in the tenant file.",
    runbook: "neurallog-quota-exhausted",
  },
  {
    alert: "NeuralLogQuotaRejectingPods",
    expr: "max by (tenant) (neurallog_quota_rejected_pods) > 0",
    for: "5m",
    severity: "critical",
    summary: "Pods of tenant {{ $labels.tenant }} were refused by its quota ({{ $value }} in the last hour).",
    description:
      "ReplicaSets or Jobs of tenant {{ $labels.tenant }} could not create pods because the quota was exceeded: a server replica or a backup is missing now. Raise the quota or the plan in the tenant file.",
    runbook: "neurallog-quota-exhausted",
  },
  {
    alert: "NeuralLogDrift",
    expr: "max by (tenant, kind) (neurallog_drift) > 0",
    for: "30m",
    severity: "warning",
    summary: "Tenant {{ $labels.tenant }}: {{ $value }} {{ $labels.kind }} object(s) differ from git.",
    description:
      "The cluster's {{ $labels.kind }} objects of tenant {{ $labels.tenant }} were changed, added or removed outside git (the controller compares them with the rendered desired state). Put the change into the tenant file or let Argo CD restore it.",
    runbook: "neurallog-drift",
  },
  {
    alert: "NeuralLogServerErrors",
    expr: `(${SERVER_ERROR_RATIO}) > 0.05`,
    for: "10m",
    severity: "critical",
    summary: "{{ $value | humanizePercentage }} of tenant {{ $labels.tenant }}'s requests fail with a 5xx.",
    description:
      "The NeuralLog server of tenant {{ $labels.tenant }} answers more than 5% of requests with a server error; shippers retry and may fall behind. Most often its Redis is unreachable, full or slow.",
    runbook: "neurallog-server-errors",
  },
  {
    alert: "NeuralLogIngestRejects",
    expr: `(${REJECT_RATIO}) > 0.05`,
    for: "15m",
    severity: "warning",
    summary:
      "Tenant {{ $labels.tenant }} refuses {{ $value | humanizePercentage }} of what its shippers send.",
    description:
      "More than 5% of the log entries and requests sent to tenant {{ $labels.tenant }} are refused (invalid entries, bodies over the limit, wrong keys, rate limits); refused logs are not stored. The reason label of neurallog_rejected_total says which.",
    runbook: "neurallog-ingest-rejects",
  },
  {
    alert: "NeuralLogRedisMemoryHigh",
    expr: "max by (tenant) (neurallog_redis_memory_used_bytes) / max by (tenant) (neurallog_redis_memory_max_bytes > 0) > 0.9",
    for: "15m",
    severity: "warning",
    summary: "Redis of tenant {{ $labels.tenant }} uses {{ $value | humanizePercentage }} of its maxmemory.",
    description:
      "The Redis of tenant {{ $labels.tenant }} is near maxmemory; at maxmemory it refuses writes and ingest fails with 5xx. Lower the tenant's log retention or move it to a plan with more Redis memory.",
    runbook: "neurallog-redis-memory-high",
  },
  {
    alert: "NeuralLogWebhookDeadLetters",
    expr: "max by (tenant) (neurallog_webhook_dead_letter_stream_length) > 0",
    for: "5m",
    severity: "warning",
    summary: "Tenant {{ $labels.tenant }} has {{ $value }} undelivered webhook notification(s).",
    description:
      "Webhook or Slack deliveries of tenant {{ $labels.tenant }} failed every attempt and wait in its dead-letter stream. Fix the receiver, then replay each (POST /api/v1/dead-letters/<id>/replay) or delete it.",
    runbook: "neurallog-webhook-dead-letters",
  },
  {
    alert: "NeuralLogRuleEvaluationErrors",
    expr: "sum by (tenant, rule) (increase(neurallog_rule_evaluation_errors_total[15m])) > 0",
    for: "1m",
    severity: "warning",
    summary: "Rule {{ $labels.rule }} of tenant {{ $labels.tenant }} fails to evaluate.",
    description:
      "Rule {{ $labels.rule }} of tenant {{ $labels.tenant }} failed on some batches in the last 15 minutes: its alerts may be missing for them. GET /api/v1/rules/{{ $labels.rule }} shows lastError.",
    runbook: "neurallog-rule-evaluation-errors",
  },
];

export const PLATFORM_RULE_NAME = "neurallog-alerts";

export interface PlatformAlertsProps {
  readonly namespace: string;
  /** The rule's labels: the standard ones and those the Prometheus resource's ruleSelector matches. */
  readonly labels: Readonly<Record<string, string>>;
  /** Ends in `/`; each alert links to `<runbookBaseURL>alerts/<runbook>.md`. */
  readonly runbookBaseURL: string;
  /** Default: PLATFORM_ALERTS. */
  readonly alerts?: readonly PlatformAlert[];
}

/** The `spec` of the PrometheusRule: one group, the alerts' runbook links resolved. */
export function alertRuleGroups(props: Pick<PlatformAlertsProps, "runbookBaseURL" | "alerts">) {
  return {
    groups: [
      {
        name: "neurallog",
        rules: (props.alerts ?? PLATFORM_ALERTS).map((a) => ({
          alert: a.alert,
          expr: a.expr,
          for: a.for,
          labels: { severity: a.severity },
          annotations: {
            summary: a.summary,
            description: a.description,
            runbook_url: `${props.runbookBaseURL}alerts/${a.runbook}.md`,
          },
        })),
      },
    ],
  };
}

export class PlatformAlerts extends Construct {
  constructor(scope: Construct, id: string, props: PlatformAlertsProps) {
    super(scope, id);
    new ApiObject(this, "rule", {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "PrometheusRule",
      metadata: { name: PLATFORM_RULE_NAME, namespace: props.namespace, labels: { ...props.labels } },
      spec: alertRuleGroups(props),
    });
  }
}
