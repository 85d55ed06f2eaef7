/**
 * The alerts and the dashboard (charts-src) read metrics the server and the controller export: a renamed metric
 * or label would leave an alert silent forever, which no rule test notices. Every `neurallog_*` series the
 * expressions name, and every label they group or filter by, must be declared by the real programs: the server's
 * registry (a real app with alerting on a real Redis, as /metrics serves it) and the controller's. Spans three programs, so it
 * lives in test/.
 */
import type { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLATFORM_ALERTS } from "../../charts-src/constructs/platform-alerts.ts";
import { DASHBOARD_PANELS } from "../../charts-src/constructs/platform-dashboard.ts";
import { ControllerMetrics } from "../../controller/metrics/controller-metrics.ts";
import { startAlertingApp, type AlertingApp } from "../support/alerting-harness.ts";
import { startRedisServer, type RedisServerHandle } from "../support/redis-server.ts";

/** Labels Prometheus itself adds to every scraped series (the tenant one from the ServiceMonitor's relabeling). */
const TARGET_LABELS = new Set(["tenant", "pod", "namespace", "instance", "job", "le"]);

const expressions = [
  ...PLATFORM_ALERTS.map((a) => ({ where: a.alert, expr: a.expr })),
  ...DASHBOARD_PANELS.flatMap((p) => p.queries.map((q) => ({ where: `panel ${p.title}`, expr: q.expr }))),
];

/** metric name → its declared label names, from a prom-client registry (series need not have a value yet). */
function families(registry: Registry, into: Map<string, Set<string>>): void {
  for (const metric of registry.getMetricsAsArray()) {
    const { name, labelNames = [] } = metric as unknown as { name: string; labelNames?: string[] };
    into.set(name, new Set(labelNames));
  }
}

let redis: RedisServerHandle;
let app: AlertingApp;
const exported = new Map<string, Set<string>>();

beforeAll(async () => {
  redis = await startRedisServer();
  app = await startAlertingApp(redis.url);
  // The server's registry once the app (with alerting) is built: what its /metrics serves.
  families(app.app.neurallog.metrics.registry, exported);
  families(new ControllerMetrics().registry, exported);
});
afterAll(async () => {
  await app?.close();
  await redis?.stop();
});

describe("metrics named by the alerts and the dashboard", () => {
  it.each(expressions)("$where: every neurallog_* metric is exported", ({ expr }) => {
    const named = [...expr.matchAll(/\bneurallog_[a-z_]+/g)].map((m) =>
      m[0].replace(/_(bucket|count|sum)$/, ""),
    );
    expect(named.length).toBeGreaterThan(0);
    for (const name of named) expect([...exported.keys()], name).toContain(name);
  });

  it.each(expressions)("$where: every label it groups or filters by exists", ({ expr }) => {
    const used = new Set<string>();
    for (const by of expr.matchAll(/\bby \(([^)]*)\)/g))
      for (const l of by[1]!.split(",")) used.add(l.trim());
    for (const sel of expr.matchAll(/\{([^}]*)\}/g))
      for (const m of sel[1]!.matchAll(/(\w+)\s*[=!]~?/g)) used.add(m[1]!);
    const all = new Set([...exported.values()].flatMap((s) => [...s]));
    for (const label of used) {
      if (TARGET_LABELS.has(label)) continue;
      expect([...all], `${label} in ${expr}`).toContain(label);
    }
  });
});
