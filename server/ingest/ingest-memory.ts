/**
 * The memory ingestion may use at once, shared by every request of the process: each request takes what decoding
 * its body will cost before doing the work (raw bytes, decoded bytes, containers), and gives it back when its
 * handler ends. A body that alone needs more than the whole budget is a 413 (it will never fit: send smaller
 * batches); one that does not fit beside the requests in flight is a 503 with Retry-After (backpressure instead of
 * the heap limit or the container's OOM kill).
 *
 * The costs are measured, not guessed (`npm run bench:ingest` prints the peak RSS they give under load):
 * decoding and normalizing a JSON body retains 2–6× its bytes at the end (8.7× for an object of 200,000 numeric
 * fields), and the body text and the Redis command exist beside that at the peak; one JSON container costs ~70
 * bytes of heap, one protobuf message ~140 (protobufjs builds a message and then a plain object).
 */
import { getHeapStatistics } from "node:v8";
import { PayloadTooLarge, ServiceUnavailable } from "../errors.ts";

/** Heap per byte of a decoded body while it is decoded, normalized and sent to Redis. */
export const DECODED_BYTE_COST = 8;
/** Heap per JSON object/array or protobuf message in a body, beyond its bytes. */
export const CONTAINER_COST = 160;
/** Share of the process' memory limit ingestion may hold: the rest is the baseline, queries, tails, GC slack. */
export const INGEST_MEMORY_SHARE = 0.4;

const MiB = 1024 * 1024;
const mib = (bytes: number): string => `${Math.ceil(bytes / MiB)} MiB`;

/**
 * The default budget: a share of the smaller of V8's heap limit and the container's memory limit (cgroup), so a
 * heap flag larger than the container (or none at all) still leaves room below the OOM killer.
 */
export function defaultIngestMemoryBytes(): number {
  const heap = getHeapStatistics().heap_size_limit;
  const constrained = process.constrainedMemory();
  const limit = constrained > 0 ? Math.min(heap, constrained) : heap;
  return Math.floor(limit * INGEST_MEMORY_SHARE);
}

export class IngestMemory {
  readonly capacity: number;
  private used = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Bytes held by requests in flight (for /metrics). */
  get inUse(): number {
    return this.used;
  }

  /** The memory of one request, empty until it takes some; release it when the handler ends. */
  open(): BodyMemory {
    return new BodyMemory(this);
  }

  /** @internal through BodyMemory: either all of `bytes` is granted or an error says why not. */
  grant(held: number, bytes: number, what: string): void {
    if (held + bytes > this.capacity) {
      throw new PayloadTooLarge(
        `decoding ${what} needs more than the ${mib(this.capacity)} this server sets aside for ingestion; send smaller batches`,
      );
    }
    if (this.used + bytes > this.capacity)
      throw new ServiceUnavailable("the server is busy decoding other requests; retry later");
    this.used += bytes;
  }

  /** @internal */
  giveBack(bytes: number): void {
    this.used -= bytes;
  }
}

export class BodyMemory {
  private held = 0;
  private readonly budget: IngestMemory;

  constructor(budget: IngestMemory) {
    this.budget = budget;
  }

  /** Takes `bytes` more for this request; `what` names the work in a 413 ("the body", "the body's 30,000 ..."). */
  take(bytes: number, what = "the body"): void {
    this.budget.grant(this.held, bytes, what);
    this.held += bytes;
  }

  release(): void {
    this.budget.giveBack(this.held);
    this.held = 0;
  }
}
