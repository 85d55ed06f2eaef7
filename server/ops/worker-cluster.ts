/**
 * Several server processes behind one port (`NEURALLOG_WORKERS` > 1), for nodes where one Node process cannot use
 * the CPU the pod has: parsing and normalizing logs is per-process CPU work, Redis is not the limit. The primary
 * only forks, restarts crashed workers, forwards SIGTERM and aggregates metrics; each worker is a complete server
 * (its own Redis connection, extensions, rate-limit buckets). Scaling across nodes is the Deployment's replicas.
 */
import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";
import type { Logger } from "pino";

const METRICS_REQUEST = "neurallog:metrics-request";
const METRICS_REPLY = "neurallog:metrics-reply";

interface MetricsRequest {
  type: typeof METRICS_REQUEST;
  id: number;
}
interface MetricsReply {
  type: typeof METRICS_REPLY;
  id: number;
  text?: string;
  error?: string;
}

/** Runs the primary until every worker exited after SIGTERM/SIGINT; returns the exit code. */
export async function runPrimary(workers: number, logger: Logger): Promise<number> {
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let failed = false;

  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on("message", (message: MetricsRequest) => {
      if (message?.type !== METRICS_REQUEST) return;
      aggregator.clusterMetrics().then(
        (text) => worker.send({ type: METRICS_REPLY, id: message.id, text } satisfies MetricsReply),
        (error: Error) =>
          worker.send({ type: METRICS_REPLY, id: message.id, error: error.message } satisfies MetricsReply),
      );
    });
    return worker;
  };

  cluster.on("exit", (worker, code, signal) => {
    if (stopping) {
      if (code !== 0) failed = true;
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, "server worker died; starting a new one");
    fork();
  });
  for (let i = 0; i < workers; i++) fork();
  logger.info({ workers }, "server workers started");

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
      const check = setInterval(() => {
        if (Object.keys(cluster.workers ?? {}).length === 0) {
          clearInterval(check);
          resolve();
        }
      }, 50);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  return failed ? 1 : 0;
}

export const isClusterWorker = (): boolean => cluster.isWorker;

/** In a worker: lets the primary collect this registry, and returns the text of all workers' metrics. */
export function clusterMetricsSource(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries(registry);
  // Constructing one installs prom-client's worker-side listener that answers the primary's collection requests.
  new AggregatorRegistry();
  // The channel to the primary must not keep a worker alive after its server closed.
  process.channel?.unref();
  let next = 0;
  const pending = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  process.on("message", (message: MetricsReply) => {
    if (message?.type !== METRICS_REPLY) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.text !== undefined) waiter?.resolve(message.text);
    else waiter?.reject(new Error(`metrics aggregation failed: ${message.error}`));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      process.send?.({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
      setTimeout(() => {
        if (pending.delete(id)) reject(new Error("metrics aggregation timed out"));
      }, 5000).unref();
    });
}
