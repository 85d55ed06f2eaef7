/**
 * Prometheus metrics of one app instance (its own registry, so tests can build several apps). Extensions get
 * the registry through their context to add their own.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type IngestEndpoint = "native" | "loki" | "otlp" | "elasticsearch";

export interface ServerMetrics {
  readonly registry: Registry;
  readonly ingestedLogs: Counter<"endpoint">;
  readonly ingestedBytes: Counter<"endpoint">;
  /** Rejected entries or requests, by endpoint and reason (invalid_entry, too_large, bad_body, unauthorized...). */
  readonly rejects: Counter<"endpoint" | "reason">;
  readonly requestDuration: Histogram<"method" | "route" | "status_code">;
  readonly redisDuration: Histogram<"operation">;
  /** Live tails open now (tail/tail-slots.ts keeps it). */
  readonly liveTails: Gauge;
  /** The `/metrics` text: this registry's, or, in a worker cluster, every worker's aggregated. */
  text: () => Promise<string>;
}

export function createMetrics(): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "neurallog_" });
  return {
    registry,
    text: () => registry.metrics(),
    ingestedLogs: new Counter({
      name: "neurallog_ingested_logs_total",
      help: "Logs stored, by ingestion endpoint",
      labelNames: ["endpoint"],
      registers: [registry],
    }),
    ingestedBytes: new Counter({
      name: "neurallog_ingested_bytes_total",
      help: "Request body bytes received on ingestion endpoints (as sent, before decompression)",
      labelNames: ["endpoint"],
      registers: [registry],
    }),
    rejects: new Counter({
      name: "neurallog_rejected_total",
      help: "Rejected log entries or requests, by endpoint and reason",
      labelNames: ["endpoint", "reason"],
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: "neurallog_http_request_duration_seconds",
      help: "HTTP request latency by route",
      labelNames: ["method", "route", "status_code"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    redisDuration: new Histogram({
      name: "neurallog_redis_duration_seconds",
      help: "Latency of the server's Redis operations (append = one batch)",
      labelNames: ["operation"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    liveTails: new Gauge({
      name: "neurallog_live_tails",
      help: "Live tails (Server-Sent Events) open now, each holding a Redis connection",
      registers: [registry],
    }),
  };
}

/** A scrape waits this long for Redis; a slower (paused, busy) Redis leaves the gauges at their last values. */
export const SCRAPE_WAIT_MS = 500;

/**
 * `read`'s value, or undefined once SCRAPE_WAIT_MS passed: a gauge read from Redis at scrape time must not hold
 * /metrics (and Prometheus' scrape timeout) for as long as Redis is paused or busy.
 */
export function withinScrapeWait<T>(read: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<undefined>(
    (resolve) => (timer = setTimeout(resolve, SCRAPE_WAIT_MS, undefined)),
  );
  return Promise.race([read, waited]).finally(() => clearTimeout(timer));
}
