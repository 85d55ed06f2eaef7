/**
 * SIGTERM/SIGINT as an AbortSignal, installed before the server's modules load. A signal that arrives while a
 * process has no handler takes Node's default action and kills it by the signal (exit code null), which the
 * worker-cluster primary and Kubernetes see as a crash: that happened to workers the primary stopped while they
 * were still loading. The handlers stay installed until the process ends, so a second signal (Ctrl-C reaches every
 * process of the group, then the primary forwards SIGTERM) does not kill a draining process either.
 */
import cluster from "node:cluster";

/** Sent by a worker once SIGTERM stops it gracefully; the primary holds back its SIGTERM until then. */
export const STOP_HANDLER_READY = "neurallog:stop-handler-ready";

export function stopOnSignals(): AbortSignal {
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!stop.signal.aborted) stop.abort(new Error(`stopped by ${signal}`));
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  if (cluster.isWorker) process.send?.({ type: STOP_HANDLER_READY });
  return stop.signal;
}

/** Resolves when `signal` aborts. */
export const stopped = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
