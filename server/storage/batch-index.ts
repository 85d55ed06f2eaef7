/**
 * The per-batch index. Instead of one index write per log (the number of Redis commands per log is what limits
 * ingest speed), every accepted batch gets ONE index entry: its id range, time range, a bit mask of its levels,
 * and a Bloom filter of its terms (source, field=value pairs, message tokens); and, in the same entry, the same
 * summary for each block of BLOCK_LOGS consecutive logs of the batch (`encodeBlocks`). A query skips batches
 * that cannot match by the batch's filter, then blocks by theirs, and reads and filters only the logs of the
 * remaining blocks exactly. False positives cost a block read; there are no false negatives, so results are exact.
 *
 * Indexing runs for every log at ingest, so terms are hashed as they are scanned (no token strings, no
 * concatenation, no regex); `tokenize` splits text by the very same rules for queries and exact matching.
 */
import { LOG_LEVELS, levelRank, type LogEntry, type LogLevel } from "../logs/log-entry.ts";

/** Tokens are cut at this length (the same for indexing and query). */
const MAX_TOKEN_LENGTH = 64;
/** Messages with more tokens than this index only the first ones; the batch is then marked incomplete. */
const MAX_TOKENS_PER_MESSAGE = 256;
/** Field values longer than this are not indexed (a query for such a value scans instead). */
export const MAX_INDEXED_VALUE_LENGTH = 128;
/**
 * Logs per block: a hit costs reading one block, so small blocks make rare terms cheap; every block costs 24 bytes
 * of header and its own copy of the terms its logs share. At 1M logs (bench:query) 32 read one user's newest 100
 * logs in 16 ms p50 at 18.9 MB of index per million logs, 64 in 39 ms at 15.7 MB (ADR 0014).
 */
export const BLOCK_LOGS = 32;
/** Bloom hash functions; with ~9.6 bits per distinct term this gives about 1% false positives. */
const BLOOM_HASHES = 7;
const BLOOM_BITS_PER_TERM = 9.6;
/**
 * A block's filter: ~0.13% false positives. A term in every batch but few logs (one user's logs) passes every
 * batch filter, so the blocks' false positives are what such a search reads in vain: at 1% they were more
 * than its hits (bench:query); the bits cost 1.4 bytes per log.
 */
const BLOCK_BLOOM_BITS_PER_TERM = 14.4;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * Token characters: ASCII letters, digits and `_`, and every non-ASCII character except spaces and the
 * punctuation blocks (so words in any script are tokens). Returns the lowercased code, or -1 for a separator.
 */
function tokenCharSlow(code: number): number {
  if (code <= 0xbf && code !== 0xaa && code !== 0xb5 && code !== 0xba) return -1; // Latin-1 punctuation
  if (code === 0xd7 || code === 0xf7) return -1; // × ÷
  if ((code >= 0x2000 && code <= 0x2bff) || (code >= 0x3000 && code <= 0x303f) || code === 0xfeff) return -1;
  const lower = String.fromCharCode(code).toLowerCase();
  return lower.length === 1 ? lower.charCodeAt(0) : code;
}

/** ASCII answers of `tokenChar`, precomputed: this runs for every character of every message. */
const ASCII_TOKEN = Int16Array.from({ length: 128 }, (_, code) => {
  if (code >= 0x61 && code <= 0x7a) return code; // a-z
  if (code >= 0x41 && code <= 0x5a) return code + 32; // A-Z
  if ((code >= 0x30 && code <= 0x39) || code === 0x5f) return code; // 0-9 _
  return -1;
});

function tokenChar(code: number): number {
  return code < 128 ? ASCII_TOKEN[code]! : tokenCharSlow(code);
}

export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let current: number[] = [];
  const flush = (): void => {
    if (current.length) tokens.push(String.fromCharCode(...current.slice(0, MAX_TOKEN_LENGTH)));
    current = [];
  };
  for (let i = 0; i < text.length; i++) {
    const c = tokenChar(text.charCodeAt(i));
    if (c < 0) flush();
    else current.push(c);
  }
  flush();
  return tokens;
}

function hashUpdate(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h;
}

export function termHash(term: string): number {
  return hashUpdate(FNV_OFFSET, term) >>> 0 || 1;
}

const PREFIX_TOKEN = hashUpdate(FNV_OFFSET, "t:");
const PREFIX_SOURCE = hashUpdate(FNV_OFFSET, "s:");
const PREFIX_FIELD = hashUpdate(FNV_OFFSET, "f:");

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

/** A second, independent-enough hash derived from the first (murmur3 finalizer), for double hashing. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h | 1) >>> 0;
}

/** Builds a Bloom filter from term hashes (duplicates allowed; it is sized by the distinct ones). */
export function bloomFromHashes(hashes: Uint32Array, bitsPerTerm = BLOOM_BITS_PER_TERM): Buffer {
  // Deduplicate with an open-addressing table (linear, no sort): a batch repeats most of its terms.
  let size = 64;
  while (size < hashes.length * 2) size *= 2;
  const table = new Uint32Array(size);
  const mask = size - 1;
  const distinct: number[] = [];
  for (let i = 0; i < hashes.length; i++) {
    const h = hashes[i]! || 1; // 0 marks an empty slot
    let at = h & mask;
    while (table[at] !== 0 && table[at] !== h) at = (at + 1) & mask;
    if (table[at] === 0) {
      table[at] = h;
      distinct.push(h);
    }
  }
  const bytes = Math.max(8, Math.ceil((distinct.length * bitsPerTerm) / 8));
  const bits = bytes * 8;
  const bloom = Buffer.alloc(bytes);
  for (const h1 of distinct) {
    const h2 = mix32(h1);
    for (let k = 0; k < BLOOM_HASHES; k++) {
      const at = ((h1 + Math.imul(k, h2)) >>> 0) % bits;
      bloom[at >>> 3]! |= 1 << (at & 7);
    }
  }
  return bloom;
}

export function buildBloom(terms: Iterable<string>): Buffer {
  return bloomFromHashes(Uint32Array.from(terms, termHash));
}

export function bloomMayContain(bloom: Buffer, term: string): boolean {
  return bloomMayContainProbe(bloom, bloomProbe(term));
}

/** A term's two hashes, computed once per query instead of once per filter probed. */
export interface BloomProbe {
  readonly h1: number;
  readonly h2: number;
}

export function bloomProbe(term: string): BloomProbe {
  const h1 = termHash(term);
  return { h1, h2: mix32(h1) };
}

export function bloomMayContainProbe(bloom: Uint8Array, { h1, h2 }: BloomProbe): boolean {
  const bits = bloom.length * 8;
  if (bits === 0) return true;
  for (let k = 0; k < BLOOM_HASHES; k++) {
    const at = ((h1 + Math.imul(k, h2)) >>> 0) % bits;
    if ((bloom[at >>> 3]! & (1 << (at & 7))) === 0) return false;
  }
  return true;
}

/** Per-minute counts of one batch, grouped by the hour hash they go to: hour → field → increment. */
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
  readonly stats: StatsIncrements;
  /** The per-block summaries (`encodeBlocks`), stored with the batch's entry. */
  readonly blocks: Buffer;
}

/** What the index says about one block of logs (or, for an entry written before blocks, about the batch). */
export interface BlockSummary {
  readonly minTs: number;
  readonly maxTs: number;
  readonly levelMask: number;
  /** False when some message had too many tokens to index: token filters must read this block. */
  readonly tokensComplete: boolean;
  readonly bloom: Uint8Array;
  /** Per log of the block, in order: its level's rank (a column: which logs, not only whether some). */
  readonly levels?: Uint8Array;
  /** Per log of the block: its source's number in the batch's `sources`, when the batch has that column. */
  readonly sources?: Uint8Array;
}

export interface BlocksOfBatch {
  readonly blockLogs: number;
  readonly blocks: BlockSummary[];
  /** The batch's distinct sources (at most MAX_SOURCE_COLUMN), numbered for the blocks' source columns. */
  readonly sources?: readonly string[];
}

/** A batch with more distinct sources than this has no source column (sources then go by Bloom filter only). */
const MAX_SOURCE_COLUMN = 255;

/*
 * The blocks field, little-endian: u8 format (2), u8 0, u16 logs per block, u32 block count, u16 source count
 * (0xffff: no source column) and per source u16 byte length and its UTF-8; then per block f64 minTs, f64 maxTs,
 * u8 level mask, u8 flags (1 = tokens complete), u16 logs in the block (n), u32 Bloom bytes, the Bloom filter,
 * n level ranks, and (with the column) n source numbers. Block i holds the batch's logs i*B .. i*B+n-1 (ids are
 * contiguous), so no ids are stored.
 */
const BLOCKS_FORMAT = 2;
const NO_SOURCE_COLUMN = 0xffff;
const BLOCK_HEADER = 24;

export function encodeBlocks({ blockLogs, blocks, sources }: BlocksOfBatch): Buffer {
  const names = (sources ?? []).map((name) => Buffer.from(name, "utf8"));
  let size = 10;
  for (const name of names) size += 2 + name.length;
  for (const block of blocks) size += BLOCK_HEADER + block.bloom.length + (block.levels?.length ?? 0) * 2;
  const out = Buffer.alloc(size);
  out.writeUInt8(BLOCKS_FORMAT, 0);
  out.writeUInt16LE(blockLogs, 2);
  out.writeUInt32LE(blocks.length, 4);
  out.writeUInt16LE(sources ? names.length : NO_SOURCE_COLUMN, 8);
  let at = 10;
  for (const name of names) {
    out.writeUInt16LE(name.length, at);
    out.set(name, at + 2);
    at += 2 + name.length;
  }
  for (const block of blocks) {
    const n = block.levels?.length ?? 0;
    out.writeDoubleLE(block.minTs, at);
    out.writeDoubleLE(block.maxTs, at + 8);
    out.writeUInt8(block.levelMask, at + 16);
    out.writeUInt8(block.tokensComplete ? 1 : 0, at + 17);
    out.writeUInt16LE(n, at + 18);
    out.writeUInt32LE(block.bloom.length, at + 20);
    at += BLOCK_HEADER;
    out.set(block.bloom, at);
    at += block.bloom.length;
    if (block.levels) out.set(block.levels, at);
    at += n;
    if (sources && block.sources) {
      out.set(block.sources, at);
      at += n;
    }
  }
  return out.subarray(0, at);
}

/** The blocks of an entry's blocks field; filters and columns are views into `data`, not copies. */
export function decodeBlocks(data: Buffer): BlocksOfBatch {
  if (data.length < 10 || data.readUInt8(0) !== BLOCKS_FORMAT)
    throw new Error(`index blocks of an unknown format (${data.length} bytes)`);
  const blockLogs = data.readUInt16LE(2);
  const count = data.readUInt32LE(4);
  const sourceCount = data.readUInt16LE(8);
  let at = 10;
  let sources: string[] | undefined;
  if (sourceCount !== NO_SOURCE_COLUMN) {
    sources = [];
    for (let i = 0; i < sourceCount; i++) {
      const length = data.readUInt16LE(at);
      sources.push(data.toString("utf8", at + 2, at + 2 + length));
      at += 2 + length;
    }
  }
  const blocks: BlockSummary[] = [];
  for (let i = 0; i < count; i++) {
    const n = data.readUInt16LE(at + 18);
    const bytes = data.readUInt32LE(at + 20);
    const summary = {
      minTs: data.readDoubleLE(at),
      maxTs: data.readDoubleLE(at + 8),
      levelMask: data.readUInt8(at + 16),
      tokensComplete: data.readUInt8(at + 17) === 1,
    };
    at += BLOCK_HEADER;
    const bloom = data.subarray(at, at + bytes);
    at += bytes;
    const levels = data.subarray(at, at + n);
    at += n;
    if (sources) {
      blocks.push({ ...summary, bloom, levels, sources: data.subarray(at, at + n) });
      at += n;
    } else blocks.push({ ...summary, bloom, levels });
  }
  if (at !== data.length) throw new Error(`index blocks of ${data.length} bytes hold ${at}`);
  return { blockLogs, blocks, ...(sources ? { sources } : {}) };
}

/** Collects term hashes into a growable typed array. */
class HashList {
  values = new Uint32Array(4096);
  length = 0;
  push(h: number): void {
    if (this.length === this.values.length) {
      const bigger = new Uint32Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = h >>> 0;
  }
}

/** Hashes the message's tokens into `out`; returns the number of tokens. */
function hashTokens(message: string, out: HashList): number {
  let tokens = 0;
  let h = PREFIX_TOKEN;
  let length = 0;
  for (let i = 0; i < message.length; i++) {
    const c = tokenChar(message.charCodeAt(i));
    if (c < 0) {
      if (length > 0) {
        if (++tokens <= MAX_TOKENS_PER_MESSAGE) out.push(h);
        h = PREFIX_TOKEN;
        length = 0;
      }
    } else if (length++ < MAX_TOKEN_LENGTH) h = Math.imul(h ^ c, FNV_PRIME);
  }
  if (length > 0 && ++tokens <= MAX_TOKENS_PER_MESSAGE) out.push(h);
  return tokens;
}

/** The blocks of one batch as they are built: each block's time range, levels, token completeness, filter. */
class BlockBuilder {
  readonly blocks: BlockSummary[] = [];
  readonly levels: Uint8Array;
  readonly sources: Uint8Array;
  #start = 0;
  #first = 0;
  #minTs = Infinity;
  #maxTs = -Infinity;
  #levelMask = 0;
  #tokensComplete = true;

  readonly hashes: HashList;

  constructor(hashes: HashList, logs: number) {
    this.hashes = hashes;
    this.levels = new Uint8Array(logs);
    this.sources = new Uint8Array(logs);
  }

  add(i: number, ts: number, rank: number, source: number, tokensComplete: boolean): void {
    if (ts < this.#minTs) this.#minTs = ts;
    if (ts > this.#maxTs) this.#maxTs = ts;
    this.#levelMask |= 1 << rank;
    this.#tokensComplete &&= tokensComplete;
    this.levels[i] = rank;
    this.sources[i] = source;
  }

  /** Ends the block at log `end` (exclusive): its filter holds the hashes pushed since the last close. */
  close(end: number): void {
    const bloom = bloomFromHashes(
      this.hashes.values.subarray(this.#start, this.hashes.length),
      BLOCK_BLOOM_BITS_PER_TERM,
    );
    this.blocks.push({
      minTs: this.#minTs,
      maxTs: this.#maxTs,
      levelMask: this.#levelMask,
      tokensComplete: this.#tokensComplete,
      bloom,
      levels: this.levels.subarray(this.#first, end),
      sources: this.sources.subarray(this.#first, end),
    });
    this.#start = this.hashes.length;
    this.#first = end;
    this.#minTs = Infinity;
    this.#maxTs = -Infinity;
    this.#levelMask = 0;
    this.#tokensComplete = true;
  }
}

/** Hashes the entry's terms (source, message tokens, short field values) into `out`; false when tokens were cut. */
function hashEntryTerms(entry: LogEntry, out: HashList): boolean {
  out.push(hashUpdate(PREFIX_SOURCE, entry.source));
  const complete = hashTokens(entry.message, out) <= MAX_TOKENS_PER_MESSAGE;
  const fields = entry.fields;
  for (const name in fields) {
    const value = fields[name];
    const text = typeof value === "string" ? value : fieldText(value);
    if (text.length <= MAX_INDEXED_VALUE_LENGTH) {
      out.push(hashUpdate(hashUpdate(hashUpdate(PREFIX_FIELD, name), "="), text));
    }
  }
  return complete;
}

type MinuteCounts = Map<number, { levels: number[]; sources: Map<string, number> }>;

function countMinute(perMinute: MinuteCounts, ts: number, rank: number, source: string): void {
  const minute = Math.floor(ts / 60_000);
  let counts = perMinute.get(minute);
  if (!counts) perMinute.set(minute, (counts = { levels: [0, 0, 0, 0, 0, 0], sources: new Map() }));
  counts.levels[rank]!++;
  counts.sources.set(source, (counts.sources.get(source) ?? 0) + 1);
}

/** The per-minute counts as increments of the per-hour stats hashes. */
function statsIncrements(perMinute: MinuteCounts): StatsIncrements {
  const stats: StatsIncrements = new Map();
  for (const [minute, counts] of perMinute) {
    const hour = Math.floor(minute / 60) * 3600;
    let fields = stats.get(hour);
    if (!fields) stats.set(hour, (fields = new Map()));
    counts.levels.forEach((n, rank) => {
      if (n > 0) fields.set(statsField(minute, "l", LOG_LEVELS[rank]!), n);
    });
    for (const [source, n] of counts.sources) fields.set(statsField(minute, "s", source), n);
  }
  return stats;
}

export function indexBatch(entries: readonly LogEntry[], blockLogs = BLOCK_LOGS): BatchIndex {
  const hashes = new HashList();
  const perMinute: MinuteCounts = new Map();
  let minTs = Infinity;
  let maxTs = -Infinity;
  let levelMask = 0;
  let tokensComplete = true;
  const builder = new BlockBuilder(hashes, entries.length);
  const sourceNumbers = new Map<string, number>();
  for (let i = 0; i < entries.length; i++) {
    if (i > 0 && i % blockLogs === 0) builder.close(i);
    const entry = entries[i]!;
    let source = sourceNumbers.get(entry.source);
    if (source === undefined) sourceNumbers.set(entry.source, (source = sourceNumbers.size));
    const ts = entry.timestamp;
    if (ts < minTs) minTs = ts;
    if (ts > maxTs) maxTs = ts;
    const rank = levelRank(entry.level);
    levelMask |= 1 << rank;
    const complete = hashEntryTerms(entry, hashes);
    tokensComplete &&= complete;
    builder.add(i, ts, rank, source, complete);
    countMinute(perMinute, ts, rank, entry.source);
  }
  if (entries.length > 0) builder.close(entries.length);
  const bloom = bloomFromHashes(hashes.values.subarray(0, hashes.length));
  const sources = sourceNumbers.size <= MAX_SOURCE_COLUMN ? [...sourceNumbers.keys()] : undefined;
  const blocks = builder.blocks;
  return {
    count: entries.length,
    minTs,
    maxTs,
    levelMask,
    bloom,
    tokensComplete,
    stats: statsIncrements(perMinute),
    blocks: encodeBlocks({ blockLogs, blocks, ...(sources ? { sources } : {}) }),
  };
}
