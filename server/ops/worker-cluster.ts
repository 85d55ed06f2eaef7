/**
 * Several server processes behind one port (`NEURALLOG_WORKERS` > 1), for nodes where one Node process cannot use
 * the CPU the pod has: parsing and normalizing logs is per-process CPU work, Redis is not the limit. The primary
 * only forks, restarts crashed workers, forwards SIGTERM and aggregates metrics; each worker is a complete server
 * (its own Redis connection, extensions, rate-limit buckets). Scaling across nodes is the Deployment's replicas.
 */
import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";
import type { Logger } from "pino";
import { STOP_HANDLER_READY, stopped } from "./stop-signal.ts";

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

/**
 * Runs the primary until `stop` aborted (SIGTERM/SIGINT) and every worker exited; returns the exit code: 1 when a
 * worker failed its drain or died by a signal while stopping.
 */
export async function runPrimary(workers: number, logger: Logger, stop: AbortSignal): Promise<number> {
  const aggregator = new AggregatorRegistry();
  let failed = false;
  // Workers whose SIGTERM handler is installed: only those are sent SIGTERM; one still loading gets it as soon as
  // it reports ready (without a handler, SIGTERM would kill it by the signal instead of draining it).
  const stoppable = new WeakSet<Worker>();
  // Our own count: cluster.workers still lists a worker at its 'exit' while its channel has not closed yet.
  const alive = new Set<Worker>();
  const terminate = (worker: Worker): void => {
    if (stop.aborted && stoppable.has(worker) && !worker.isDead()) worker.process.kill("SIGTERM");
  };

  const fork = (): Worker => {
    const worker = cluster.fork();
    alive.add(worker);
    // A write to a worker that is exiting (a metrics reply, cluster's own messages) fails with EPIPE; unhandled,
    // that 'error' would crash the primary and with it every worker.
    worker.on("error", (error) =>
      logger.warn({ err: error, pid: worker.process.pid }, "server worker channel error"),
    );
    worker.on("message", (message: MetricsRequest | { type: typeof STOP_HANDLER_READY }) => {
      if (message?.type === STOP_HANDLER_READY) {
        stoppable.add(worker);
        terminate(worker);
        return;
      }
      if (message?.type !== METRICS_REQUEST) return;
      const { id } = message;
      aggregator.clusterMetrics().then(
        (text) => worker.send({ type: METRICS_REPLY, id, text } satisfies MetricsReply),
        (error: Error) =>
          worker.send({ type: METRICS_REPLY, id, error: error.message } satisfies MetricsReply),
      );
    });
    return worker;
  };

  const allExited = new Promise<void>((resolve) => {
    cluster.on("exit", (worker, code, signal) => {
      alive.delete(worker);
      if (!stop.aborted) {
        logger.error({ pid: worker.process.pid, code, signal }, "server worker died; starting a new one");
        fork();
        return;
      }
      if (code !== 0) {
        // A worker killed by a signal (code null) or failing its drain makes the whole stop a failure.
        logger.error({ pid: worker.process.pid, code, signal }, "server worker failed while stopping");
        failed = true;
      }
      if (alive.size === 0) resolve();
    });
  });
  for (let i = 0; i < workers; i++) fork();
  logger.info({ workers }, "server workers started");

  await stopped(stop);
  for (const worker of alive) terminate(worker);
  await allExited;
  return failed ? 1 : 0;
}

export const isClusterWorker = (): boolean => cluster.isWorker;

/**
 * In a worker whose server has closed: lets the process end by itself. prom-client's listener for the primary's
 * metric requests holds the IPC channel from the moment it is imported, also in a worker stopped before it ever
 * served. (Unref, not `worker.disconnect()`: its handshake makes the primary write to a channel the worker already
 * closed.)
 */
export function leaveCluster(): void {
  if (cluster.isWorker) process.channel?.unref();
}

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
