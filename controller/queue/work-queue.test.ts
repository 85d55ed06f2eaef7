import { afterEach, describe, expect, it, vi } from "vitest";
import { WorkQueue, runWorkers } from "./work-queue.ts";

afterEach(() => {
  vi.useRealTimers();
});

describe("WorkQueue", () => {
  it("keeps one copy of a key however often it is added", async () => {
    const queue = new WorkQueue<string>();
    for (const key of ["a", "b", "a", "a", "c", "b"]) queue.add(key);
    expect(queue.length).toBe(3);
    expect([await queue.get(), await queue.get(), await queue.get()]).toEqual(["a", "b", "c"]);
  });

  it("does not hand a key to a second worker while the first holds it, and replays the add after done", async () => {
    const queue = new WorkQueue<string>();
    queue.add("a");
    const first = await queue.get();
    queue.add("a");
    expect(queue.length).toBe(0);
    let second: string | undefined;
    void queue.get().then((key) => (second = key));
    await Promise.resolve();
    expect(second).toBeUndefined();
    queue.done(first!);
    await Promise.resolve();
    expect(second).toBe("a");
  });

  it("drops a key after done when nobody added it meanwhile", async () => {
    const queue = new WorkQueue<string>();
    queue.add("a");
    queue.done((await queue.get())!);
    expect(queue.length).toBe(0);
  });

  it("brings failed keys back after a doubling backoff, reset by forget", async () => {
    vi.useFakeTimers();
    const queue = new WorkQueue<string>({ baseMs: 100, maxMs: 1000 });
    expect([queue.addRateLimited("a"), queue.addRateLimited("a"), queue.addRateLimited("a")]).toEqual([
      100, 200, 400,
    ]);
    // The earliest of the pending delays wins.
    vi.advanceTimersByTime(99);
    expect(queue.length).toBe(0);
    vi.advanceTimersByTime(1);
    expect(queue.length).toBe(1);
    queue.forget("a");
    expect(queue.failures("a")).toBe(0);
    expect(queue.addRateLimited("a")).toBe(100);
  });

  it("releases waiting workers with undefined on shut down and ignores later adds", async () => {
    const queue = new WorkQueue<string>();
    const waiting = queue.get();
    queue.shutDown();
    expect(await waiting).toBeUndefined();
    queue.add("a");
    expect(await queue.get()).toBeUndefined();
  });
});

describe("runWorkers", () => {
  it("processes each key once at a time across workers, retries failures, and stops on shut down", async () => {
    const queue = new WorkQueue<string>({ baseMs: 1, maxMs: 4 });
    const running = new Set<string>();
    const overlaps: string[] = [];
    const processed: string[] = [];
    let failuresLeft = 2;
    const errors: [string, number][] = [];
    // Queued before the workers start, so the duplicate "a" is deduplicated in the queue.
    for (const key of ["a", "self", "flaky", "a", "b"]) queue.add(key);
    const done = runWorkers(
      queue,
      3,
      async (key) => {
        if (running.has(key)) overlaps.push(key);
        running.add(key);
        await new Promise((resolve) => setTimeout(resolve, 2));
        running.delete(key);
        if (key === "flaky" && failuresLeft-- > 0) throw new Error("apiserver said no");
        processed.push(key);
        // Adding itself while being processed must be replayed once, not run concurrently.
        if (key === "self" && processed.filter((k) => k === "self").length === 1) queue.add("self");
      },
      (key, _error, retryInMs) => errors.push([key, retryInMs]),
    );
    for (let i = 0; i < 200 && processed.length < 5; i++)
      await new Promise((resolve) => setTimeout(resolve, 5));
    queue.shutDown();
    await done;
    expect(overlaps).toEqual([]);
    expect(processed.sort()).toEqual(["a", "b", "flaky", "self", "self"]);
    expect(errors).toEqual([
      ["flaky", 1],
      ["flaky", 2],
    ]);
    expect(queue.failures("flaky")).toBe(0);
  });
});
