/**
 * The alerting runtime's Prometheus metrics, on the server's registry (`/metrics`): dead letters written, the
 * dead-letter stream's length, rule evaluation errors, alerts fired.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { withinScrapeWait } from "../ops/metrics.ts";

export interface AlertingMetrics {
  /** Dead letters this replica wrote, by action type (webhook, slack). */
  readonly deadLetters: Counter<"action">;
  /** Evaluations of a rule that failed (its alerts may be missing for that batch or sweep), by rule id. */
  readonly ruleEvaluationErrors: Counter<"rule">;
  /** Alerts this replica opened: on a batch's matches or, for absence rules, in a sweep. */
  readonly alertsFired: Counter;
}

export function alertingMetrics(
  registry: Registry,
  deadLetterLength: () => Promise<number>,
  onError: (error: Error) => void,
): AlertingMetrics {
  new Gauge({
    name: "neurallog_webhook_dead_letter_stream_length",
    help: "Entries in the tenant's dead-letter stream (deliveries that failed for good, not replayed or deleted)",
    registers: [registry],
    // Every replica (and worker process) reads the same stream: summing them would count it several times.
    aggregator: "max",
    async collect() {
      try {
        // A paused or busy Redis keeps the last value rather than holding the scrape.
        const length = await withinScrapeWait(deadLetterLength());
        if (length !== undefined) this.set(length);
      } catch (error) {
        // Redis unreachable: keep the last value; /metrics itself must still answer.
        onError(error as Error);
      }
    },
  });
  return {
    deadLetters: new Counter({
      name: "neurallog_webhook_dead_letters_total",
      help: "HTTP deliveries (webhook, slack) that failed every attempt and went to the dead-letter stream",
      labelNames: ["action"],
      registers: [registry],
    }),
    ruleEvaluationErrors: new Counter({
      name: "neurallog_rule_evaluation_errors_total",
      help: "Rule evaluations that failed (a batch or a sweep the rule did not see), by rule",
      labelNames: ["rule"],
      registers: [registry],
    }),
    alertsFired: new Counter({
      name: "neurallog_alerts_fired_total",
      help: "Alerts opened by rule evaluation (a batch's matches, or an absence rule's sweep)",
      registers: [registry],
    }),
  };
}
