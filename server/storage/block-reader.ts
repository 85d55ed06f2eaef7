/**
 * Reads ranges of the log stream with the filter's text checked inside Redis: one read-only script call reads
 * every range of a wave (newest first) and returns only the logs whose stored JSON contains the required text.
 * A search reading thousands of logs to find a hundred then moves and decodes a hundred, not thousands: reading
 * a log in Redis costs well under a microsecond, sending and parsing it in Node several.
 */
import type { Redis } from "ioredis";

/** Text every matching log's stored JSON contains (see query/log-filter.ts, which derives it from a filter). */
export interface StoredFormText {
  /** Each must occur as is. */
  readonly exact: readonly string[];
  /** Of each group, one must occur as is. */
  readonly anyOf: readonly (readonly string[])[];
  /** Lowercase ASCII words, each must occur in any case. */
  readonly words: readonly string[];
}

/** A range of log ids, both inclusive; read newest first. */
export interface LogRange {
  readonly from: string;
  readonly to: string;
}

export interface RangeRead {
  /** Logs the ranges held (read in Redis, whether sent or not). */
  readonly scanned: number;
  /** The logs that passed the text check, newest first: stream id and stored JSON. */
  readonly logs: [id: string, data: string][];
}

/*
 * KEYS: logs. ARGV: range count r, then r pairs (newest id, oldest id), then the exact count and texts, the
 * any-of group count and per group its size and texts, the word count and words. Returns
 * { scanned, id, d, id, d, ... }.
 * `no-writes`: it runs on replicas and when Redis is at maxmemory; plain find (no patterns) on each log's `d`.
 */
const READ_SCRIPT = `#!lua flags=no-writes
local r = tonumber(ARGV[1])
local at = 2 + 2 * r
local exact, groups, words = {}, {}, {}
for i = 1, tonumber(ARGV[at]) do exact[i] = ARGV[at + i] end
at = at + 1 + #exact
local ngroups = tonumber(ARGV[at])
at = at + 1
for g = 1, ngroups do
  local size = tonumber(ARGV[at])
  local group = {}
  for i = 1, size do group[i] = ARGV[at + i] end
  groups[g] = group
  at = at + 1 + size
end
for i = 1, tonumber(ARGV[at]) do words[i] = ARGV[at + i] end
local find, lower = string.find, string.lower
local out = { 0 }
local scanned = 0
for k = 0, r - 1 do
  local entries = redis.call('XREVRANGE', KEYS[1], ARGV[2 + 2 * k], ARGV[3 + 2 * k])
  scanned = scanned + #entries
  for _, entry in ipairs(entries) do
    local kv = entry[2]
    local d
    for j = 1, #kv, 2 do if kv[j] == 'd' then d = kv[j + 1] break end end
    local ok = d ~= nil
    if ok then
      for i = 1, #exact do if not find(d, exact[i], 1, true) then ok = false break end end
    end
    if ok then
      for g = 1, #groups do
        local group, found = groups[g], false
        for i = 1, #group do if find(d, group[i], 1, true) then found = true break end end
        if not found then ok = false break end
      end
    end
    if ok and #words > 0 then
      local low = lower(d)
      for i = 1, #words do if not find(low, words[i], 1, true) then ok = false break end end
    end
    if ok then
      out[#out + 1] = entry[1]
      out[#out + 1] = d
    end
  end
end
out[1] = scanned
return out
`;

type ReadCommand = (...args: (string | number)[]) => Promise<(string | number)[]>;

export class BlockReader {
  private readonly redis: Redis;
  private readonly logsKey: string;

  constructor(redis: Redis, logsKey: string) {
    this.redis = redis;
    this.logsKey = logsKey;
    if (!("nlReadRanges" in redis)) redis.defineCommand("nlReadRanges", { lua: READ_SCRIPT });
  }

  async read(ranges: readonly LogRange[], text: StoredFormText): Promise<RangeRead> {
    const args: (string | number)[] = [1, this.logsKey, ranges.length];
    for (const { from, to } of ranges) args.push(from, to);
    args.push(text.exact.length, ...text.exact, text.anyOf.length);
    for (const group of text.anyOf) args.push(group.length, ...group);
    args.push(text.words.length, ...text.words);
    const reply = await (this.redis as unknown as { nlReadRanges: ReadCommand }).nlReadRanges(...args);
    const logs: [string, string][] = [];
    for (let i = 1; i + 1 < reply.length; i += 2) logs.push([String(reply[i]), String(reply[i + 1])]);
    return { scanned: Number(reply[0]), logs };
  }
}
