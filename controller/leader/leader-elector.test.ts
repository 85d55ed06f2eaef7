import { describe, expect, it } from "vitest";
import type { V1Lease } from "@kubernetes/client-node";
import { LeaderElector } from "./leader-elector.ts";
import { LeaseConflictError, type LeaseStore } from "./lease-store.ts";

/** One Lease with the API server's optimistic concurrency: writes must carry the current resourceVersion. */
class LeaseRecord implements LeaseStore {
  lease: V1Lease | undefined;
  #version = 0;
  reachable = true;

  async read() {
    this.#check();
    return this.lease && structuredClone(this.lease);
  }
  async create(lease: V1Lease) {
    this.#check();
    if (this.lease) throw new LeaseConflictError("exists");
    return this.#store(lease);
  }
  async replace(lease: V1Lease) {
    this.#check();
    if (lease.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion)
      throw new LeaseConflictError("rv");
    return this.#store(lease);
  }
  #store(lease: V1Lease) {
    this.lease = {
      ...structuredClone(lease),
      metadata: { ...lease.metadata, resourceVersion: String(++this.#version) },
    };
    return structuredClone(this.lease);
  }
  #check() {
    if (!this.reachable) throw new Error("connect ECONNREFUSED");
  }
}

function replicas(store: LeaseRecord) {
  let now = 1_000_000;
  const log: string[] = [];
  const make = (identity: string) =>
    new LeaderElector({
      identity,
      namespace: "neurallog-system",
      name: "neurallog-controller",
      store,
      now: () => now,
      onStartedLeading: () => log.push(`${identity} started`),
      onStoppedLeading: () => log.push(`${identity} stopped`),
    });
  return { a: make("a"), b: make("b"), log, advance: (ms: number) => (now += ms) };
}

describe("LeaderElector", () => {
  it("lets exactly one of two replicas lead, and keeps it while it renews", async () => {
    const store = new LeaseRecord();
    const { a, b, log, advance } = replicas(store);
    expect(await a.step()).toBe(true);
    expect(await b.step()).toBe(false);
    for (let i = 0; i < 20; i++) {
      advance(2_000);
      await a.step();
      await b.step();
      expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    }
    expect(log).toEqual(["a started"]);
    expect(store.lease?.spec).toMatchObject({
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      leaseTransitions: 0,
    });
  });

  it("hands over after the lease duration when the leader vanishes, counting the transition", async () => {
    const store = new LeaseRecord();
    const { a, b, log, advance } = replicas(store);
    await a.step();
    await b.step();
    advance(14_000);
    expect(await b.step()).toBe(false);
    advance(1_001);
    expect(await b.step()).toBe(true);
    expect(log).toEqual(["a started", "b started"]);
    expect(store.lease?.spec).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
    // a, back from its stall, sees b's fresh Lease: it cannot renew and steps down.
    expect(a.isLeader()).toBe(false);
    expect(await a.step()).toBe(false);
    expect(log).toEqual(["a started", "b started", "a stopped"]);
  });

  it("stops leading after the renew deadline when the API server is unreachable, before the lease expires", async () => {
    const store = new LeaseRecord();
    const { a, log, advance } = replicas(store);
    await a.step();
    store.reachable = false;
    advance(9_000);
    await a.step();
    expect(a.isLeader()).toBe(true);
    advance(1_000);
    expect(a.isLeader()).toBe(false);
    await a.step();
    expect(log).toEqual(["a started", "a stopped"]);
    store.reachable = true;
    advance(2_000);
    expect(await a.step()).toBe(true);
    expect(log).toEqual(["a started", "a stopped", "a started"]);
  });

  it("releases on stop so the other replica takes over on its next try", async () => {
    const store = new LeaseRecord();
    const { a, b, log, advance } = replicas(store);
    await a.step();
    await a.stop();
    expect(store.lease?.spec?.holderIdentity).toBeUndefined();
    advance(2_000);
    expect(await b.step()).toBe(true);
    expect(log).toEqual(["a started", "a stopped", "b started"]);
  });

  it("loses a race for the Lease without error: the conditional update fails for one of them", async () => {
    const store = new LeaseRecord();
    const { a, b } = replicas(store);
    const results = await Promise.all([a.step(), b.step()]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(store.lease?.spec?.holderIdentity).toBe(results[0] ? "a" : "b");
  });
});
