/**
 * Leader election over a Lease (see README.md). Timings default to client-go's: lease 15 s, renew deadline 10 s,
 * retry 2 s.
 */
import { V1MicroTime, type V1Lease } from "@kubernetes/client-node";
import type { LeaseStore } from "./lease-store.ts";

export interface LeaderElectionTimings {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

export const DEFAULT_TIMINGS: LeaderElectionTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

export interface LeaderElectorOptions {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  readonly store: LeaseStore;
  readonly timings?: LeaderElectionTimings;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
  readonly onError?: (error: unknown) => void;
  /** Injectable for tests. */
  readonly now?: () => number;
}

export class LeaderElector {
  readonly identity: string;
  readonly #options: LeaderElectorOptions;
  readonly #timings: LeaderElectionTimings;
  readonly #now: () => number;
  #leading = false;
  #lastRenew = 0;
  /** The Lease as last seen, and when (our clock) its resourceVersion last changed. */
  #observed: { resourceVersion: string; at: number; holder: string } | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  /** Fires at the renew deadline after the last renewal: leadership ends on time even if a request hangs. */
  #deadline: NodeJS.Timeout | undefined;

  constructor(options: LeaderElectorOptions) {
    this.identity = options.identity;
    this.#options = options;
    this.#timings = options.timings ?? DEFAULT_TIMINGS;
    if (!(this.#timings.renewDeadlineMs < this.#timings.leaseDurationMs)) {
      throw new RangeError("the renew deadline must be shorter than the lease duration");
    }
    this.#now = options.now ?? Date.now;
  }

  /**
   * True while this replica holds a Lease it renewed within the renew deadline. Asked before every write, so a
   * leader that stalled (or lost the API server) stops writing before another replica may take over.
   */
  isLeader(): boolean {
    return this.#leading && this.#now() - this.#lastRenew < this.#timings.renewDeadlineMs;
  }

  /** The holder of the Lease as last seen (this replica or another), for /status. */
  get observedHolder(): string | undefined {
    return this.#observed?.holder || undefined;
  }

  /** Starts the acquire/renew loop (returns at once). */
  start(): void {
    this.#stopped = false;
    this.#loop ??= this.#run();
  }

  /** Stops the loop and, when leading, releases the Lease so a successor takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#deadline);
    this.#wake?.();
    await this.#loop;
    this.#loop = undefined;
    if (this.#leading) {
      await this.release().catch((error: unknown) => this.#options.onError?.(error));
      this.#setLeading(false);
    }
  }

  /** One round: acquire or renew. Exposed for tests; the loop calls it every retry period. */
  async step(): Promise<boolean> {
    let renewed = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      // A round that takes longer than the renew deadline is worthless (client-go bounds it the same way); an
      // unanswered request must not hold the loop.
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Lease round took longer than ${this.#timings.renewDeadlineMs} ms`)),
          this.#timings.renewDeadlineMs,
        );
      });
      renewed = await Promise.race([this.#tryAcquireOrRenew(), timeout]);
    } catch (error) {
      this.#options.onError?.(error);
    } finally {
      clearTimeout(timer);
    }
    const now = this.#now();
    if (renewed) {
      this.#lastRenew = now;
      this.#setLeading(true);
      clearTimeout(this.#deadline);
      this.#deadline = setTimeout(() => {
        if (!this.isLeader()) this.#setLeading(false);
      }, this.#timings.renewDeadlineMs);
      this.#deadline.unref();
    } else if (this.#leading && now - this.#lastRenew >= this.#timings.renewDeadlineMs) {
      this.#setLeading(false);
    }
    return renewed;
  }

  /** Gives the Lease up (holder cleared), only if it is still ours and unchanged since we last wrote it. */
  async release(): Promise<void> {
    const lease = await this.#options.store.read();
    if (!lease || lease.spec?.holderIdentity !== this.identity) return;
    const now = new V1MicroTime(this.#now());
    await this.#options.store.replace({
      ...lease,
      spec: {
        ...lease.spec,
        holderIdentity: undefined,
        leaseDurationSeconds: 1,
        renewTime: now,
        acquireTime: now,
      },
    });
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      await this.step();
      if (this.#stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#timings.retryPeriodMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { store, name, namespace } = this.#options;
    const nowMs = this.#now();
    const now = new V1MicroTime(nowMs);
    const durationSeconds = Math.ceil(this.#timings.leaseDurationMs / 1000);
    const lease = await store.read();
    if (!lease) {
      const created = await store.create({
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace },
        spec: {
          holderIdentity: this.identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: 0,
        },
      });
      this.#observe(created, nowMs);
      return true;
    }
    this.#observe(lease, nowMs);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const heldFor = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (holder && holder !== this.identity && this.#observed!.at + heldFor > nowMs) return false;
    const ours = holder === this.identity;
    const updated = await store.replace({
      ...lease,
      // resourceVersion stays as read: the update only succeeds if nobody wrote the Lease since.
      metadata: { ...lease.metadata },
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: ours ? spec.acquireTime : now,
        renewTime: now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (ours ? 0 : 1),
      },
    });
    this.#observe(updated, nowMs);
    return true;
  }

  #observe(lease: V1Lease, nowMs: number): void {
    const resourceVersion = lease.metadata?.resourceVersion ?? "";
    if (this.#observed?.resourceVersion !== resourceVersion) {
      this.#observed = { resourceVersion, at: nowMs, holder: lease.spec?.holderIdentity ?? "" };
    }
  }

  #setLeading(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    if (leading) this.#options.onStartedLeading();
    else this.#options.onStoppedLeading();
  }
}
