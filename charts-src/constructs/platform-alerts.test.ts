/**
 * The platform's alerts under the real promtool (Prometheus' own rule checker and unit-test runner, built from the
 * Go module proxy like the test cluster's binaries): `promtool check rules` over the rendered rule group, and
 * `promtool test rules` with, for every alert, a case where it fires (labels and annotations exactly as Prometheus
 * expands them) and a case where it must stay quiet (condition below its threshold, or not held for long enough).
 * The dashboard's queries are parsed by promtool too (as recording rules), so a typo in a panel fails here.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ensureClusterBinaries } from "../../test/cluster/binaries.ts";
import { DEFAULT_RUNBOOK_BASE_URL } from "../model/resolve.ts";
import { alertRuleGroups, PLATFORM_ALERTS, type PlatformAlert } from "./platform-alerts.ts";
import { DASHBOARD_PANELS } from "./platform-dashboard.ts";

interface Fires {
  readonly at: string;
  readonly labels: Readonly<Record<string, string>>;
  /** What `{{ $value }}` (or `{{ $value | humanizePercentage }}`) expands to in this alert's annotations. */
  readonly value?: string;
}

interface AlertCase {
  readonly alert: string;
  /** promtool input series: series selector → values in promtool's expanding notation. */
  readonly series: Readonly<Record<string, string>>;
  /** Evaluation times (from the start) at which no alert may be firing. */
  readonly quietAt: readonly string[];
  readonly fires: readonly Fires[];
}

/** One scrape a minute; `a+bxN` is a, a+b, ... N more samples (promtool's notation). */
const CASES: readonly AlertCase[] = [
  {
    alert: "NeuralLogBackupMissing",
    series: {
      // Both controller replicas export the gauge: the alert must not fire twice.
      'neurallog_backup_missing{tenant="acme", pod="controller-a"}': "1x40",
      'neurallog_backup_missing{tenant="acme", pod="controller-b"}': "1x40",
      'neurallog_backup_missing{tenant="globex", pod="controller-a"}': "0x40",
      // Missing only briefly (a first backup that was late and then succeeded): never fires.
      'neurallog_backup_missing{tenant="initech", pod="controller-a"}': "1x5 0x35",
    },
    quietAt: ["9m"],
    fires: [{ at: "20m", labels: { tenant: "acme" } }],
  },
  {
    alert: "NeuralLogBackupStale",
    series: {
      'neurallog_backup_stale{tenant="acme"}': "0x10 1x30",
      'neurallog_backup_stale{tenant="globex"}': "0x40",
    },
    quietAt: ["15m"],
    fires: [{ at: "25m", labels: { tenant: "acme" } }],
  },
  {
    alert: "NeuralLogControllerDown",
    series: {
      // A leader for 20 minutes, then none (both replicas still report, as followers).
      'neurallog_leader{pod="controller-a"}': "1x20 0x30",
      'neurallog_leader{pod="controller-b"}': "0x50",
    },
    quietAt: ["15m", "25m"],
    fires: [{ at: "35m", labels: {} }],
  },
  {
    alert: "NeuralLogQuotaNearLimit",
    series: {
      'neurallog_quota_used_ratio{tenant="acme", resource="limits.memory"}': "0.95x40",
      'neurallog_quota_used_ratio{tenant="acme", resource="requests.cpu"}': "0.5x40",
      'neurallog_quota_used_ratio{tenant="globex", resource="limits.memory"}': "0.85x40",
    },
    quietAt: ["10m"],
    fires: [{ at: "20m", labels: { tenant: "acme", resource: "limits.memory" }, value: "95%" }],
  },
  {
    alert: "NeuralLogQuotaExhausted",
    series: {
      'neurallog_quota_used_ratio{tenant="acme", resource="pods"}': "1x40",
      'neurallog_quota_used_ratio{tenant="globex", resource="pods"}': "0.97x40",
    },
    quietAt: ["3m"],
    fires: [{ at: "10m", labels: { tenant: "acme", resource: "pods" } }],
  },
  {
    alert: "NeuralLogQuotaRejectingPods",
    series: {
      'neurallog_quota_rejected_pods{tenant="acme"}': "0x5 3x30",
      'neurallog_quota_rejected_pods{tenant="globex"}': "0x40",
    },
    quietAt: ["8m"],
    fires: [{ at: "15m", labels: { tenant: "acme" }, value: "3" }],
  },
  {
    alert: "NeuralLogDrift",
    series: {
      'neurallog_drift{tenant="acme", kind="ResourceQuota"}': "1x50",
      // Drift Argo CD repaired within minutes: never fires.
      'neurallog_drift{tenant="globex", kind="NetworkPolicy"}': "1x10 0x40",
    },
    quietAt: ["25m"],
    fires: [{ at: "40m", labels: { tenant: "acme", kind: "ResourceQuota" }, value: "1" }],
  },
  {
    alert: "NeuralLogServerErrors",
    series: {
      // acme: 10 requests/min, 2 of them 5xx (20%). globex: 100/min, 1 of them 5xx (1%).
      'neurallog_http_request_duration_seconds_count{tenant="acme", route="/api/v1/logs", method="POST", status_code="200"}':
        "0+8x40",
      'neurallog_http_request_duration_seconds_count{tenant="acme", route="/api/v1/logs", method="POST", status_code="503"}':
        "0+2x40",
      'neurallog_http_request_duration_seconds_count{tenant="globex", route="/api/v1/logs", method="POST", status_code="200"}':
        "0+99x40",
      'neurallog_http_request_duration_seconds_count{tenant="globex", route="/api/v1/logs", method="POST", status_code="500"}':
        "0+1x40",
    },
    quietAt: ["8m"],
    fires: [{ at: "20m", labels: { tenant: "acme" }, value: "20%" }],
  },
  {
    alert: "NeuralLogIngestRejects",
    series: {
      // acme stores 90/min and refuses 10/min (10%); globex stores 1000/min and refuses 10/min (~1%).
      'neurallog_ingested_logs_total{tenant="acme", endpoint="native"}': "0+90x40",
      'neurallog_rejected_total{tenant="acme", endpoint="native", reason="invalid_entry"}': "0+10x40",
      'neurallog_ingested_logs_total{tenant="globex", endpoint="loki"}': "0+1000x40",
      'neurallog_rejected_total{tenant="globex", endpoint="loki", reason="too_large"}': "0+10x40",
      // initech stores nothing at all (a wrong key everywhere): every request refused, a ratio of 1.
      'neurallog_rejected_total{tenant="initech", endpoint="otlp", reason="unauthorized"}': "0+5x40",
    },
    quietAt: ["10m"],
    fires: [
      { at: "30m", labels: { tenant: "acme" }, value: "10%" },
      { at: "30m", labels: { tenant: "initech" }, value: "100%" },
    ],
  },
  {
    alert: "NeuralLogRedisMemoryHigh",
    series: {
      'neurallog_redis_memory_used_bytes{tenant="acme"}': "960x40",
      'neurallog_redis_memory_max_bytes{tenant="acme"}': "1000x40",
      'neurallog_redis_memory_used_bytes{tenant="globex"}': "500x40",
      'neurallog_redis_memory_max_bytes{tenant="globex"}': "1000x40",
      // maxmemory 0 is "unlimited": no ratio, no alert.
      'neurallog_redis_memory_used_bytes{tenant="initech"}': "5000x40",
      'neurallog_redis_memory_max_bytes{tenant="initech"}': "0x40",
    },
    quietAt: ["10m"],
    fires: [{ at: "20m", labels: { tenant: "acme" }, value: "96%" }],
  },
  {
    alert: "NeuralLogWebhookDeadLetters",
    series: {
      'neurallog_webhook_dead_letter_stream_length{tenant="acme"}': "0x5 4x20",
      'neurallog_webhook_dead_letter_stream_length{tenant="globex"}': "0x25",
      // Replayed before the 5 minutes: never fires.
      'neurallog_webhook_dead_letter_stream_length{tenant="initech"}': "2x3 0x22",
    },
    quietAt: ["8m"],
    fires: [{ at: "15m", labels: { tenant: "acme" }, value: "4" }],
  },
  {
    alert: "NeuralLogRuleEvaluationErrors",
    series: {
      'neurallog_rule_evaluation_errors_total{tenant="acme", rule="slow-regex"}': "0x10 1+1x10 11x30",
      'neurallog_rule_evaluation_errors_total{tenant="globex", rule="ok"}': "0x50",
    },
    // Before the errors, and 15 minutes after the last one.
    quietAt: ["8m", "45m"],
    fires: [{ at: "18m", labels: { tenant: "acme", rule: "slow-regex" } }],
  },
];

/** The annotations Prometheus gives an alert with these labels and value (only the placeholders our texts use). */
function expectedAnnotations(alert: PlatformAlert, fires: Fires): Record<string, string> {
  const expand = (text: string): string =>
    text
      .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, name: string) => fires.labels[name] ?? "")
      .replace(/\{\{ \$value(?: \| humanizePercentage)? \}\}/g, () => {
        if (fires.value === undefined) throw new Error(`${alert.alert}: the case needs the expanded $value`);
        return fires.value;
      });
  return {
    summary: expand(alert.summary),
    description: expand(alert.description),
    runbook_url: `${DEFAULT_RUNBOOK_BASE_URL}alerts/${alert.runbook}.md`,
  };
}

function promtoolTests(): Record<string, unknown> {
  const byName = new Map(PLATFORM_ALERTS.map((a) => [a.alert, a]));
  return {
    rule_files: ["rules.yaml"],
    evaluation_interval: "1m",
    tests: CASES.map((c) => {
      const alert = byName.get(c.alert);
      if (!alert) throw new Error(`a test case names ${c.alert}, which is not an alert`);
      return {
        name: c.alert,
        interval: "1m",
        input_series: Object.entries(c.series).map(([series, values]) => ({ series, values })),
        alert_rule_test: [
          ...c.quietAt.map((at) => ({ eval_time: at, alertname: c.alert, exp_alerts: [] })),
          ...Object.entries(Object.groupBy(c.fires, (f) => f.at)).map(([at, fires]) => ({
            eval_time: at,
            alertname: c.alert,
            exp_alerts: (fires ?? []).map((f) => ({
              exp_labels: { severity: alert.severity, ...f.labels },
              exp_annotations: expectedAnnotations(alert, f),
            })),
          })),
        ],
      };
    }),
  };
}

let promtool: string;
let dir: string;

beforeAll(() => {
  promtool = ensureClusterBinaries(["prometheus"]).path("promtool");
  dir = mkdtempSync(join(tmpdir(), "neurallog-alerts-"));
  writeFileSync(
    join(dir, "rules.yaml"),
    stringify(alertRuleGroups({ runbookBaseURL: DEFAULT_RUNBOOK_BASE_URL })),
  );
}, 1_800_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): { status: number | null; output: string } {
  const result = spawnSync(promtool, args, { cwd: dir, encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("platform alerts", () => {
  it("pass promtool check rules", () => {
    const { status, output } = run(["check", "rules", "rules.yaml"]);
    expect(output).toContain(`SUCCESS: ${PLATFORM_ALERTS.length} rules found`);
    expect(status, output).toBe(0);
  });

  it("each fire when they should and stay quiet when they should not (promtool test rules)", () => {
    writeFileSync(join(dir, "tests.yaml"), stringify(promtoolTests()));
    const { status, output } = run(["test", "rules", "tests.yaml"]);
    expect(status, output).toBe(0);
    expect(output).toContain("SUCCESS");
  });

  it("have a firing and a quiet case each", () => {
    const tested = (kind: "fires" | "quietAt") => CASES.filter((c) => c[kind].length > 0).map((c) => c.alert);
    const alerts = PLATFORM_ALERTS.map((a) => a.alert).sort();
    expect([...new Set(tested("fires"))].sort()).toEqual(alerts);
    expect([...new Set(tested("quietAt"))].sort()).toEqual(alerts);
  });

  it("a wrong expectation fails promtool test rules (the runner can fail)", () => {
    const tests = promtoolTests() as { tests: { alert_rule_test: { exp_alerts: unknown[] }[] }[] };
    // Claim the backup alert is quiet when it fires.
    const firing = tests.tests[0]!.alert_rule_test.find((t) => t.exp_alerts.length > 0)!;
    firing.exp_alerts = [];
    writeFileSync(join(dir, "wrong.yaml"), stringify(tests));
    const { status, output } = run(["test", "rules", "wrong.yaml"]);
    expect(status).not.toBe(0);
    expect(output).toContain("NeuralLogBackupMissing");
  });

  it("link to runbooks that exist in docs/runbooks/alerts/", () => {
    for (const alert of PLATFORM_ALERTS) {
      const runbook = new URL(`../../docs/runbooks/alerts/${alert.runbook}.md`, import.meta.url);
      expect(existsSync(runbook), `${alert.alert}: ${runbook.pathname}`).toBe(true);
    }
  });
});

describe("the dashboard's queries", () => {
  it("are valid PromQL (promtool check rules, each query as a recording rule)", () => {
    const rules = DASHBOARD_PANELS.flatMap((panel, i) =>
      panel.queries.map((q, j) => ({
        record: `neurallog:dashboard_panel_${i}_${j}`,
        // Grafana's variables, as Grafana would substitute them.
        expr: q.expr.replaceAll("$__rate_interval", "5m").replaceAll("$tenant", ".*"),
      })),
    );
    writeFileSync(join(dir, "dashboard.yaml"), stringify({ groups: [{ name: "dashboard", rules }] }));
    const { status, output } = run(["check", "rules", "dashboard.yaml"]);
    expect(status, output).toBe(0);
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
  });
});
