/**
 * The running controller: informers → work queue → reconcile (leader only) → Events, metrics, /status.
 * `startController` wires the parts and returns a handle to stop it; `neurallog controller` (cli/commands/
 * controller.ts) is only the process boot around it.
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import { pino, type Logger } from "pino";
import { startStatusServer, type StatusServer } from "./http/status-server.ts";
import { TenantInformers } from "./informers/tenant-informers.ts";
import { ClientKubeActions, NotLeaderError } from "./kube/kube-actions.ts";
import { LeaderElector, type LeaderElectionTimings } from "./leader/leader-elector.ts";
import { ApiLeaseStore } from "./leader/lease-store.ts";
import { ControllerMetrics } from "./metrics/controller-metrics.ts";
import { EventRecorder } from "./reconcile/event-recorder.ts";
import { RedisPasswords } from "./reconcile/redis-password.ts";
import { reconcileTenant, type CorrectionMode, type TenantStatus } from "./reconcile/reconcile-tenant.ts";
import { WorkQueue, runWorkers } from "./queue/work-queue.ts";

export const LEASE_NAME = "neurallog-controller";

export interface ControllerOptions {
  readonly kubeConfig: KubeConfig;
  readonly mode: CorrectionMode;
  /** Port for /metrics, /healthz, /status; 0 picks a free one. */
  readonly port: number;
  /** Default 0.0.0.0 (the Pod's network namespace). */
  readonly host?: string;
  /** Namespace of the leader election Lease (the controller's own). */
  readonly leaseNamespace: string;
  /** Unique per replica; default: hostname plus a random suffix. */
  readonly identity?: string;
  readonly workers?: number;
  /** How often every tenant is reconciled even without changes (backup age and Event repeats move with time). */
  readonly resyncMs?: number;
  readonly timings?: LeaderElectionTimings;
  /** How long a lasting condition stays quiet after its Event. */
  readonly eventRepeatMs?: number;
  /** Extra label selector for tenant namespaces: only those tenants are looked after. */
  readonly tenantSelector?: string;
  readonly logger?: Logger;
}

export interface RunningController {
  readonly identity: string;
  readonly port: number;
  readonly metrics: ControllerMetrics;
  isLeader(): boolean;
  status(): ControllerStatus;
  stop(): Promise<void>;
}

export interface ControllerStatus {
  readonly identity: string;
  readonly leader: boolean;
  readonly leaseHolder: string | undefined;
  readonly mode: CorrectionMode;
  readonly informers: Record<string, { synced: boolean; restarts: number }>;
  readonly tenants: readonly TenantStatus[];
}

export async function startController(options: ControllerOptions): Promise<RunningController> {
  const log = options.logger ?? pino({ base: { service: "neurallog-controller" } });
  const identity = options.identity ?? `${hostname()}-${randomBytes(3).toString("hex")}`;
  const metrics = new ControllerMetrics();
  const statuses = new Map<string, TenantStatus>();
  const queue = new WorkQueue<string>();

  const informers = new TenantInformers(options.kubeConfig, {
    ...(options.tenantSelector ? { tenantSelector: options.tenantSelector } : {}),
    enqueue: (namespace) => queue.add(namespace),
    onError: (resource, error, restartInMs) => {
      metrics.informerRestarts.inc({ resource });
      log.warn({ resource, err: error, restartInMs }, "informer failed; restarting");
    },
  });

  // Every tenant at once: when this replica starts leading, and at every resync while it leads.
  const enqueueAll = () => {
    for (const namespace of informers.tenantNamespaces()) queue.add(namespace);
  };
  const elector = leaderElector(options, identity, log, { metrics, statuses, enqueueAll });

  const actions = new ClientKubeActions(options.kubeConfig, () => elector.isLeader());
  const events = new EventRecorder(actions, {
    instance: identity,
    ...(options.eventRepeatMs !== undefined ? { repeatAfterMs: options.eventRepeatMs } : {}),
  });

  const passwords = new RedisPasswords(actions);
  const reconcile = tenantReconciler(
    { elector, informers, actions, events, passwords, metrics, statuses, queue },
    options.mode,
  );

  let stopping = false;
  const status = (): ControllerStatus =>
    controllerStatus(identity, options.mode, elector, informers, statuses);
  const server: StatusServer = await startStatusServer(
    options.port,
    options.host ?? "0.0.0.0",
    metrics.registry,
    {
      status,
      health: () => ({ ok: !stopping, identity, leader: elector.isLeader(), synced: informers.synced }),
    },
  );

  await informers.start();
  const workers = runWorkers(queue, options.workers ?? 2, reconcile, (namespace, error, retryInMs) => {
    if (causedBy(error, NotLeaderError)) return;
    log.warn({ namespace, err: error, retryInMs }, "reconcile failed; retrying");
  });
  // Reconciling from a cache that has not listed yet would report everything missing: wait for the first lists
  // before competing for leadership.
  const syncWait = waitFor(() => informers.synced || stopping, 200).then(() => {
    if (!stopping) elector.start();
  });
  const resync = setInterval(() => {
    if (elector.isLeader()) enqueueAll();
  }, options.resyncMs ?? 60_000).unref();
  log.info({ identity, port: server.port, mode: options.mode }, "controller started");

  return {
    identity,
    port: server.port,
    metrics,
    isLeader: () => elector.isLeader(),
    status,
    async stop() {
      stopping = true;
      clearInterval(resync);
      await syncWait;
      await elector.stop();
      queue.shutDown();
      await workers;
      await informers.stop();
      await server.close();
    },
  };
}

interface LeadershipEffects {
  readonly metrics: ControllerMetrics;
  readonly statuses: Map<string, TenantStatus>;
  readonly enqueueAll: () => void;
}

/** Leader election on the Lease: the leader reconciles every tenant; a follower forgets its findings. */
function leaderElector(
  options: ControllerOptions,
  identity: string,
  log: Logger,
  leading: LeadershipEffects,
): LeaderElector {
  return new LeaderElector({
    identity,
    namespace: options.leaseNamespace,
    name: LEASE_NAME,
    store: new ApiLeaseStore(options.kubeConfig, options.leaseNamespace, LEASE_NAME),
    ...(options.timings ? { timings: options.timings } : {}),
    onStartedLeading: () => {
      log.info({ identity }, "leading: reconciling every tenant");
      leading.metrics.leader.set(1);
      leading.enqueueAll();
    },
    onStoppedLeading: () => {
      log.warn({ identity }, "no longer leading: writes stop");
      leading.metrics.leader.set(0);
      leading.metrics.forgetAllTenants();
      leading.statuses.clear();
    },
    onError: (error) => log.warn({ err: error }, "leader election round failed"),
  });
}

interface ReconcileParts {
  readonly elector: LeaderElector;
  readonly informers: TenantInformers;
  readonly actions: ClientKubeActions;
  readonly events: EventRecorder;
  readonly passwords: RedisPasswords;
  readonly metrics: ControllerMetrics;
  readonly statuses: Map<string, TenantStatus>;
  readonly queue: WorkQueue<string>;
}

/** One tenant's reconcile as the workers run it: on the leader only, its findings kept for /status and metrics. */
function tenantReconciler(
  { elector, informers, actions, events, passwords, metrics, statuses, queue }: ReconcileParts,
  mode: CorrectionMode,
): (namespace: string) => Promise<void> {
  return async (namespace) => {
    // Followers keep their caches warm but do nothing; the new leader enqueues every tenant when it takes over.
    if (!elector.isLeader()) return;
    const end = metrics.reconcileDuration.startTimer();
    try {
      const status = await reconcileTenant(namespace, {
        cache: informers.cache,
        actions,
        events,
        passwords,
        mode,
        now: () => new Date(),
      });
      const previous = statuses.get(namespace);
      if (previous && previous.tenant !== status?.tenant) metrics.forgetTenant(previous.tenant);
      if (status) {
        statuses.set(namespace, status);
        metrics.recordTenant(status);
      } else {
        statuses.delete(namespace);
      }
      metrics.reconciles.inc({ result: "success" });
    } catch (error) {
      // Leadership ended mid-reconcile: nothing to retry here, the new leader reconciles every tenant.
      if (causedBy(error, NotLeaderError)) {
        metrics.reconciles.inc({ result: "not-leader" });
        return;
      }
      metrics.reconciles.inc({ result: "error" });
      throw error;
    } finally {
      end();
      metrics.queueDepth.set(queue.length);
    }
  };
}

function controllerStatus(
  identity: string,
  mode: CorrectionMode,
  elector: LeaderElector,
  informers: TenantInformers,
  statuses: ReadonlyMap<string, TenantStatus>,
): ControllerStatus {
  return {
    identity,
    leader: elector.isLeader(),
    leaseHolder: elector.observedHolder,
    mode,
    informers: informers.syncState(),
    // Only the leader's findings are current.
    tenants: elector.isLeader()
      ? [...statuses.values()].sort((a, b) => a.namespace.localeCompare(b.namespace))
      : [],
  };
}

function causedBy(error: unknown, type: new (...args: never[]) => Error): boolean {
  for (let e: unknown = error; e instanceof Error; e = (e as Error).cause) if (e instanceof type) return true;
  return false;
}

async function waitFor(condition: () => boolean, everyMs: number): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, everyMs));
}
