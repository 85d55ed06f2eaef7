/**
 * The server's copy of the tenant's batch index (`nl:{T}:batches`), decoded, so a query probes Bloom filters in
 * memory instead of reading them from Redis every time. Index entries never change once written: the copy only
 * grows at the new end (entries after the last one held) and shrinks at the old end (batches whose logs retention
 * trimmed), both learned in one pipelined round trip per query. Redis stays the only truth: the copy is dropped
 * when the client reconnects (a restarted or restored Redis) or when the stream's newest log is older than the
 * newest batch held (flushed or restored under a live connection).
 *
 * The copy is bounded (a share of the heap): past it the oldest batches are let go, and a query that reaches
 * them pages their entries from Redis (`olderThan`) without keeping them.
 */
import { getHeapStatistics } from "node:v8";
import type { Redis } from "ioredis";
import { decodeBlocks, type BlockSummary } from "../storage/batch-index.ts";
import { tenantKeys, type TenantKeys } from "../storage/keys.ts";
import { parseStreamId } from "../storage/log-store.ts";

/** One stored batch as the query reads it: its logs are `ms-seq` .. `ms-(seq+count-1)`. */
export interface CatalogBatch {
  /** The index entry's id. */
  readonly id: string;
  readonly ms: number;
  readonly seq: number;
  readonly count: number;
  readonly summary: BlockSummary;
  /** Logs per block; block i holds logs seq+i*blockLogs .. (the last block may be shorter). */
  readonly blockLogs: number;
  readonly blocks: readonly BlockSummary[];
  /** The batch's sources, numbered as the blocks' source columns name them (absent: no source column). */
  readonly sources?: readonly string[];
  /** Memory the decoded entry holds (its Bloom filters). */
  readonly bytes: number;
}

/** The share of the heap the copy may hold: 1/8 (about 19 MB, two million logs, on the small plan's heap). */
const HEAP_SHARE = 8;
/** Index entries per read (each is a few to some tens of KB). */
const ENTRY_PAGE = 100;

/** `a` before `b` as stream ids. */
export function idBefore(a: readonly [number, number], b: readonly [number, number]): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

type RawEntry = [string, string[]];

function field(kv: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < kv.length; i += 2) if (kv[i] === name) return kv[i + 1];
  return undefined;
}

/**
 * Decodes one index entry. An entry written before blocks existed (no `k`), or with blocks of a format this
 * server does not know, is one block of the whole batch; a field that is missing makes the summary match
 * everything (an empty Bloom filter rules nothing out), never hide logs.
 */
export function parseBatchEntry([id, kv]: RawEntry): CatalogBatch {
  const [ms, seq] = parseStreamId(field(kv, "f") ?? "0-0");
  const [, lastSeq] = parseStreamId(field(kv, "l") ?? "0-0");
  const count = Number(field(kv, "n") ?? lastSeq - seq + 1);
  const number = (name: string, otherwise: number): number => {
    const value = Number(field(kv, name));
    return Number.isFinite(value) ? value : otherwise;
  };
  const bloom = Buffer.from(field(kv, "b") ?? "", "base64");
  const summary: BlockSummary = {
    minTs: number("t0", -Infinity),
    maxTs: number("t1", Infinity),
    levelMask: number("lv", 0xff),
    tokensComplete: field(kv, "c") === "1",
    bloom,
  };
  const whole = {
    id,
    ms,
    seq,
    count,
    summary,
    blockLogs: Math.max(1, count),
    blocks: [summary],
    bytes: bloom.length,
  };
  const blocksField = field(kv, "k");
  if (blocksField === undefined) return whole;
  const data = Buffer.from(blocksField, "base64");
  try {
    return { id, ms, seq, count, summary, ...decodeBlocks(data), bytes: bloom.length + data.length };
  } catch {
    // Blocks of a format this server does not know (written by a newer one): the batch as one block.
    return whole;
  }
}

export class BatchCatalog {
  private readonly redis: Redis;
  private readonly keys: TenantKeys;
  private readonly budget: number;
  /** Oldest first: the newest batches of the stream, contiguous. */
  private batches: CatalogBatch[] = [];
  private bytes = 0;
  /** False once older batches than `batches[0]` were let go for the budget. */
  private complete = true;
  private refreshing: Promise<void> | undefined;

  constructor(redis: Redis, tenant: string, budgetBytes = getHeapStatistics().heap_size_limit / HEAP_SHARE) {
    this.redis = redis;
    this.keys = tenantKeys(tenant);
    this.budget = budgetBytes;
    // A new connection may be to another Redis (restarted, restored, failed over): start from it afresh.
    redis.on("ready", () => this.reset());
  }

  /** Brings the copy up to date with Redis; concurrent queries share one refresh. */
  refresh(): Promise<void> {
    this.refreshing ??= this.update().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** The batches held, oldest first, and whether they are all the stream has. */
  view(): { readonly batches: readonly CatalogBatch[]; readonly complete: boolean } {
    return { batches: this.batches, complete: this.complete };
  }

  /** The memory the copy holds, in bytes (Bloom filters and block summaries). */
  get heldBytes(): number {
    return this.bytes;
  }

  /** Up to `count` index entries older than entry `id`, newest first, read from Redis (not kept). */
  async olderThan(id: string | undefined, count = 16): Promise<CatalogBatch[]> {
    const end = id === undefined ? "+" : `(${id}`;
    const page = (await this.redis.xrevrange(this.keys.batches, end, "-", "COUNT", count)) as RawEntry[];
    return page.map(parseBatchEntry);
  }

  private reset(): void {
    this.batches = [];
    this.bytes = 0;
    this.complete = true;
  }

  private async update(): Promise<void> {
    const newest = this.batches.at(-1);
    const replies = await this.redis
      .pipeline()
      .xrange(this.keys.logs, "-", "+", "COUNT", 1)
      .xrevrange(this.keys.logs, "+", "-", "COUNT", 1)
      .xrange(this.keys.batches, newest ? `(${newest.id}` : "-", "+", "COUNT", ENTRY_PAGE)
      .exec();
    for (const [error] of replies ?? [])
      if (error) throw new Error("reading the batch index failed", { cause: error });
    const [oldestLog, newestLog, fresh] = (replies ?? []).map(([, reply]) => reply as RawEntry[]);
    if (!oldestLog?.[0] || !newestLog?.[0]) {
      this.reset();
      return;
    }
    if (newest && idBefore(parseStreamId(newestLog[0][0]), [newest.ms, newest.seq + newest.count - 1])) {
      // The stream lost logs it had at its new end: not retention, a flush or a restore. Read it anew.
      this.reset();
      return this.update();
    }
    if (!newest) await this.loadNewest();
    else {
      let page = fresh ?? [];
      for (;;) {
        for (const raw of page) this.push(parseBatchEntry(raw));
        if (page.length < ENTRY_PAGE) break;
        page = (await this.redis.xrange(
          this.keys.batches,
          `(${this.batches.at(-1)!.id}`,
          "+",
          "COUNT",
          ENTRY_PAGE,
        )) as RawEntry[];
      }
    }
    this.dropTrimmed(parseStreamId(oldestLog[0][0]));
  }

  /** First load: newest first, only as much as the budget holds. */
  private async loadNewest(): Promise<void> {
    const loaded: CatalogBatch[] = [];
    let bytes = 0;
    let end = "+";
    for (;;) {
      const page = (await this.redis.xrevrange(
        this.keys.batches,
        end,
        "-",
        "COUNT",
        ENTRY_PAGE,
      )) as RawEntry[];
      for (const raw of page) {
        const batch = parseBatchEntry(raw);
        if (bytes + batch.bytes > this.budget) {
          this.complete = false;
          break;
        }
        loaded.push(batch);
        bytes += batch.bytes;
      }
      if (!this.complete || page.length < ENTRY_PAGE) break;
      end = `(${page.at(-1)![0]}`;
    }
    this.batches = loaded.reverse();
    this.bytes = bytes;
  }

  private push(batch: CatalogBatch): void {
    this.batches.push(batch);
    this.bytes += batch.bytes;
    let drop = 0;
    while (this.bytes > this.budget && drop < this.batches.length - 1)
      this.bytes -= this.batches[drop++]!.bytes;
    if (drop > 0) {
      this.batches.splice(0, drop);
      this.complete = false;
    }
  }

  /** Lets go of batches whose logs are all older than the oldest stored log. */
  private dropTrimmed(oldestLog: readonly [number, number]): void {
    let drop = 0;
    while (drop < this.batches.length) {
      const b = this.batches[drop]!;
      if (!idBefore([b.ms, b.seq + b.count - 1], oldestLog)) break;
      this.bytes -= b.bytes;
      drop++;
    }
    if (drop > 0) this.batches.splice(0, drop);
  }
}

const catalogs = new WeakMap<Redis, Map<string, BatchCatalog>>();

/**
 * The one catalog per client and tenant (the server has one client; tests have several). `budgetBytes` applies
 * when the catalog is made (tests make one with a small budget to read past it).
 */
export function batchCatalog(redis: Redis, tenant: string, budgetBytes?: number): BatchCatalog {
  let byTenant = catalogs.get(redis);
  if (!byTenant) catalogs.set(redis, (byTenant = new Map()));
  let catalog = byTenant.get(tenant);
  if (!catalog) byTenant.set(tenant, (catalog = new BatchCatalog(redis, tenant, budgetBytes)));
  return catalog;
}
