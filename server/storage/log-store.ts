/**
 * Appends a batch of logs to the tenant's stream with ONE Redis command: a Lua script that first trims the oldest
 * logs when Redis memory nears maxmemory, then XADDs every log, writes the batch's index entry and stats counts,
 * and trims by retention (count and age), atomically (any replica, any number
 * of them, sees either the whole batch with its index or nothing). The ids of a batch are contiguous
 * (`ms-seq`, `ms-seq+1`, ...), so the script returns only the first one.
 */
import type { Redis } from "ioredis";
import type { LogEntry, StoredLogEntry } from "../logs/log-entry.ts";
import { LOG_MEMORY_HIGH_WATER, LOG_MEMORY_LOW_WATER } from "../../contracts/log-memory.ts";
import { indexBatch } from "./batch-index.ts";
import { tenantKeys, type TenantKeys } from "./keys.ts";
import { encodeEntry } from "./stored-form.ts";

/** Memory trim rounds per batch, each at most one `XTRIM ~` (10,000 entries by default). */
const MEMORY_TRIM_ROUNDS = 8;

/*
 * KEYS: logs, batches, stats hour hashes...
 * ARGV: n, maxEntries, minId ("0" = no age trim), statsTtlSeconds, minTs, maxTs, levelMask, tokensComplete, bloom
 *       (base64), incomingBytes, highWater, lowWater, blocks (base64, batch-index.ts encodeBlocks),
 *       then per stats key: pair count c and c (field, increment) pairs, then the n stored entries.
 *
 * allow-oom: the tenant's Redis runs noeviction, which refuses scripts once used memory reaches maxmemory; this
 * one must still run then, to trim the oldest logs and make room. It refuses the batch itself (an OOM error, a
 * 503 for the client) only when trimming could not bring memory below maxmemory.
 */
const APPEND_SCRIPT = `#!lua flags=allow-oom
local n = tonumber(ARGV[1])
local incoming = tonumber(ARGV[10])
local function usedMemory()
  local info = redis.call('INFO', 'memory')
  return tonumber(string.match(info, '\\nused_memory:(%d+)')), tonumber(string.match(info, '\\nmaxmemory:(%d+)'))
end
-- Memory first, so the batch is written into room already made. Read from Redis on every batch: always the
-- maxmemory Redis enforces, also after a CONFIG SET.
local used, maxmemory = usedMemory()
if maxmemory > 0 and used + incoming > maxmemory * tonumber(ARGV[11]) then
  local target = maxmemory * tonumber(ARGV[12])
  -- A bounded budget per batch (XTRIM ~ takes at most 10,000 entries by default): Redis is never blocked for
  -- long; the next batches go on trimming while memory stays above the high-water mark.
  for round = 1, ${MEMORY_TRIM_ROUNDS} do
    local len = redis.call('XLEN', KEYS[1])
    if len == 0 or used + incoming <= target then break end
    -- The logs hold at most all of the used memory, so at least this share of them must go.
    local keep = math.max(0, math.floor(len - len * (used + incoming - target) / used))
    if redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', keep) == 0 then
      -- Less than one whole macro node: trim exactly (the node is freed once all its entries are gone).
      redis.call('XTRIM', KEYS[1], 'MAXLEN', keep)
    end
    used = usedMemory()
  end
  if used + incoming > maxmemory then
    return redis.error_reply('OOM used memory stays above maxmemory after trimming the oldest logs')
  end
end
local at = 14
for k = 3, #KEYS do
  local npairs = tonumber(ARGV[at])
  for p = 1, npairs do
    redis.call('HINCRBY', KEYS[k], ARGV[at + 2 * p - 1], ARGV[at + 2 * p])
  end
  redis.call('EXPIRE', KEYS[k], ARGV[4])
  at = at + 1 + 2 * npairs
end
local first = redis.call('XADD', KEYS[1], '*', 'd', ARGV[at])
local dash = string.find(first, '-', 1, true)
local ms = string.sub(first, 1, dash - 1)
local seq = tonumber(string.sub(first, dash + 1))
local last = first
for i = 1, n - 1 do
  last = ms .. '-' .. string.format('%d', seq + i)
  redis.call('XADD', KEYS[1], last, 'd', ARGV[at + i])
end
-- The index entry's id is the batch's last log id, so trimming the index by the oldest log's id (below) keeps
-- every batch that still has logs; '*' only if an entry of an older layout already holds a greater id.
local index = { 'f', first, 'l', last, 'n', n, 't0', ARGV[5], 't1', ARGV[6], 'lv', ARGV[7], 'c', ARGV[8], 'b', ARGV[9], 'k', ARGV[13] }
if not pcall(redis.call, 'XADD', KEYS[2], last, unpack(index)) then redis.call('XADD', KEYS[2], '*', unpack(index)) end
redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', ARGV[2])
if ARGV[3] ~= '0' then redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[3]) end
-- The index follows whatever trimmed the logs (count, age or memory): down to the oldest remaining log.
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
if oldest then redis.call('XTRIM', KEYS[2], 'MINID', '~', oldest[1]) end
return first
`;

export interface Retention {
  readonly maxAgeSeconds: number;
  readonly maxEntries: number;
}

type AppendCommand = (...args: (string | number | Buffer)[]) => Promise<string>;

/** Splits `ms-seq` into its parts. */
export function parseStreamId(id: string): [number, number] {
  const dash = id.indexOf("-");
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

export class LogStore {
  readonly keys: TenantKeys;
  readonly redis: Redis;
  private readonly retention: Retention;

  constructor(redis: Redis, tenant: string, retention: Retention) {
    this.redis = redis;
    this.keys = tenantKeys(tenant);
    this.retention = retention;
    if (!("nlAppend" in redis)) redis.defineCommand("nlAppend", { lua: APPEND_SCRIPT });
  }

  /**
   * Stores the batch; resolves once Redis acknowledged it, with the stored entries (ids in input order). The
   * entry objects are taken over: they get their `id` set and are returned as the stored entries.
   */
  async append(entries: readonly LogEntry[]): Promise<StoredLogEntry[]> {
    if (entries.length === 0) return [];
    const index = indexBatch(entries);
    const keys = [this.keys.logs, this.keys.batches];
    const statsArgs: (string | number)[] = [];
    for (const [hour, fields] of index.stats) {
      keys.push(this.keys.statsHour(hour));
      statsArgs.push(fields.size);
      for (const [field, increment] of fields) statsArgs.push(field, increment);
    }
    const minId = this.retention.maxAgeSeconds > 0 ? Date.now() - this.retention.maxAgeSeconds * 1000 : 0;
    const args: (string | number | Buffer)[] = [
      keys.length,
      ...keys,
      entries.length,
      this.retention.maxEntries,
      String(minId),
      this.retention.maxAgeSeconds + 3600,
      index.minTs,
      index.maxTs,
      index.levelMask,
      index.tokensComplete ? 1 : 0,
      // As text: one binary argument would make ioredis encode every argument of the command separately.
      index.bloom.toString("base64"),
      0, // incomingBytes, set below
      LOG_MEMORY_HIGH_WATER,
      LOG_MEMORY_LOW_WATER,
      index.blocks.toString("base64"),
      ...statsArgs,
    ];
    const incomingAt = keys.length + 10;
    let incomingBytes = 0;
    for (const entry of entries) {
      const stored = encodeEntry(entry);
      // UTF-16 length: close enough to the UTF-8 bytes for the memory check, and free.
      incomingBytes += stored.length;
      args.push(stored);
    }
    args[incomingAt] = incomingBytes;
    const first = await (this.redis as unknown as { nlAppend: AppendCommand }).nlAppend(...args);
    const [ms, seq] = parseStreamId(first);
    // The entries become the stored entries (one property more, no copy: this runs for every log).
    const stored = entries as (LogEntry & { id?: string })[];
    for (let i = 0; i < stored.length; i++) stored[i]!.id = `${ms}-${seq + i}`;
    return stored as StoredLogEntry[];
  }
}
