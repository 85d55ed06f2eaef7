/**
 * The per-batch index. Instead of one index write per log (the number of Redis commands per log is what limits
 * ingest speed), every accepted batch gets ONE index entry: its id range, time range, a bit mask of its levels,
 * and a Bloom filter of its terms (source, field=value pairs, message tokens). A query reads index entries
 * newest first, skips batches that cannot match, and filters the logs of the others exactly. False positives
 * cost a scan; there are no false negatives, so results are exact.
 */
import { LOG_LEVELS, levelRank, type LogEntry, type LogLevel } from "../logs/log-entry.ts";

/** Tokens are runs of letters, digits and `_`, lowercased, cut at this length (the same for indexing and query). */
const MAX_TOKEN_LENGTH = 64;
/** Messages with more tokens than this index only the first ones; the batch is then marked incomplete. */
const MAX_TOKENS_PER_MESSAGE = 256;
/** Field values longer than this are not indexed (a query for such a value scans instead). */
export const MAX_INDEXED_VALUE_LENGTH = 128;
/** Bloom hash functions; with ~9.6 bits per term this gives about 1% false positives. */
const BLOOM_HASHES = 7;
const BLOOM_BITS_PER_TERM = 9.6;

const TOKEN = /[\p{L}\p{N}_]+/gu;

export function tokenize(text: string): string[] {
  const tokens = text.toLowerCase().match(TOKEN) ?? [];
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]!.length > MAX_TOKEN_LENGTH) tokens[i] = tokens[i]!.slice(0, MAX_TOKEN_LENGTH);
  }
  return tokens;
}

export const sourceTerm = (source: string): string => `s:${source}`;
export const tokenTerm = (token: string): string => `t:${token}`;
export const fieldTerm = (name: string, value: string): string => `f:${name}=${value}`;

/** The text form in which field values are compared (`field.status=500` matches 500 and "500"). */
export function fieldText(value: unknown): string {
  return value === null ? "null" : String(value);
}

export function levelMaskAtLeast(level: LogLevel): number {
  let mask = 0;
  for (let r = levelRank(level); r < LOG_LEVELS.length; r++) mask |= 1 << r;
  return mask;
}

function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A second, independent-enough hash derived from the first (murmur3 finalizer), for double hashing. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h | 1) >>> 0;
}

export function buildBloom(terms: ReadonlySet<string>): Buffer {
  const bytes = Math.max(8, Math.ceil((terms.size * BLOOM_BITS_PER_TERM) / 8));
  const bits = bytes * 8;
  const bloom = Buffer.alloc(bytes);
  for (const term of terms) {
    const h1 = hash32(term);
    const h2 = mix32(h1);
    for (let i = 0; i < BLOOM_HASHES; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0;
      const at = bit % bits;
      bloom[at >>> 3]! |= 1 << (at & 7);
    }
  }
  return bloom;
}

export function bloomMayContain(bloom: Buffer, term: string): boolean {
  const bits = bloom.length * 8;
  if (bits === 0) return true;
  const h1 = hash32(term);
  const h2 = mix32(h1);
  for (let i = 0; i < BLOOM_HASHES; i++) {
    const at = ((h1 + Math.imul(i, h2)) >>> 0) % bits;
    if ((bloom[at >>> 3]! & (1 << (at & 7))) === 0) return false;
  }
  return true;
}

/** Per-minute counts of one batch, grouped by the hour hash they go to. */
export type StatsIncrements = Map<number, Map<string, number>>;

export const statsField = (minute: number, kind: "l" | "s", name: string): string =>
  `${minute}|${kind}|${name}`;

export interface BatchIndex {
  readonly count: number;
  readonly minTs: number;
  readonly maxTs: number;
  readonly levelMask: number;
  readonly bloom: Buffer;
  /** False when some message had too many tokens to index: token filters must scan this batch. */
  readonly tokensComplete: boolean;
  /** Hour (epoch seconds) → stats field → increment. */
  readonly stats: StatsIncrements;
}

export function indexBatch(entries: readonly LogEntry[]): BatchIndex {
  const terms = new Set<string>();
  const stats: StatsIncrements = new Map();
  let minTs = Infinity;
  let maxTs = -Infinity;
  let levelMask = 0;
  let tokensComplete = true;
  const bump = (hour: number, field: string): void => {
    let fields = stats.get(hour);
    if (!fields) stats.set(hour, (fields = new Map()));
    fields.set(field, (fields.get(field) ?? 0) + 1);
  };
  for (const entry of entries) {
    const ts = entry.timestamp;
    if (ts < minTs) minTs = ts;
    if (ts > maxTs) maxTs = ts;
    levelMask |= 1 << levelRank(entry.level);
    terms.add(sourceTerm(entry.source));
    const tokens = tokenize(entry.message);
    if (tokens.length > MAX_TOKENS_PER_MESSAGE) tokensComplete = false;
    const n = Math.min(tokens.length, MAX_TOKENS_PER_MESSAGE);
    for (let i = 0; i < n; i++) terms.add(tokenTerm(tokens[i]!));
    const fields = entry.fields;
    for (const name in fields) {
      const text = fieldText(fields[name]);
      if (text.length <= MAX_INDEXED_VALUE_LENGTH) terms.add(fieldTerm(name, text));
    }
    const minute = Math.floor(ts / 60_000);
    const hour = Math.floor(minute / 60) * 3600;
    bump(hour, statsField(minute, "l", entry.level));
    bump(hour, statsField(minute, "s", entry.source));
  }
  return { count: entries.length, minTs, maxTs, levelMask, bloom: buildBloom(terms), tokensComplete, stats };
}
