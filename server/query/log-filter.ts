/**
 * The filter shared by the query API, live tail, rules and MCP tools: parsed once from query parameters, then
 * used both to skip whole batches through their index and to match single entries exactly.
 */
import { LOG_LEVELS, levelRank, type LogLevel, type StoredLogEntry } from "../logs/log-entry.ts";
import { parseTimestamp } from "../ingest/normalize.ts";
import {
  MAX_INDEXED_VALUE_LENGTH,
  bloomMayContainProbe,
  bloomProbe,
  fieldTerm,
  type BloomProbe,
  type BlockSummary,
  fieldText,
  levelMaskAtLeast,
  sourceTerm,
  tokenTerm,
  tokenize,
} from "../storage/batch-index.ts";
import type { StoredFormText } from "../storage/block-reader.ts";

export interface LogFilter {
  /** Epoch ms, inclusive. */
  readonly from?: number;
  /** Epoch ms, exclusive. */
  readonly to?: number;
  /** At least this level. */
  readonly level?: LogLevel;
  readonly source?: string;
  /** Token search on the message: every term must occur; a phrase is its tokens in a row. */
  readonly q?: string;
  /** Exact field values (`field.http.status=500`), compared as text. */
  readonly fields?: Readonly<Record<string, string>>;
  /**
   * Substrings of the message, each must occur as is (case-sensitive, like LogQL's `|=`): unlike a token of `q`,
   * `needle` also finds `zqxneedle7`. No index rules a batch out for it; Redis checks each log's stored JSON.
   */
  readonly contains?: readonly string[];
}

/** A filter prepared for matching: tokens and phrases split, bloom terms listed. */
export interface CompiledFilter {
  readonly filter: LogFilter;
  readonly levelMask: number;
  /** Terms every matching batch's Bloom filter must hold (tokens listed separately: see tokensComplete). */
  readonly indexTerms: readonly string[];
  readonly tokenTerms: readonly string[];
  matches(entry: StoredLogEntry): boolean;
  /** What a log's stored JSON must contain to match, checked in Redis before it is sent and decoded. */
  readonly storedText: StoredFormText;
}

/** Splits `q` into plain terms and quoted phrases, each already tokenized. */
export function parseSearch(q: string): { terms: string[]; phrases: string[][] } {
  const terms: string[] = [];
  const phrases: string[][] = [];
  const quoted = /"([^"]*)"/g;
  let rest = q;
  for (const match of q.matchAll(quoted)) {
    const tokens = tokenize(match[1]!);
    if (tokens.length === 1) terms.push(tokens[0]!);
    else if (tokens.length > 1) phrases.push(tokens);
    rest = rest.replace(match[0], " ");
  }
  terms.push(...tokenize(rest));
  return { terms, phrases };
}

function containsRun(haystack: readonly string[], run: readonly string[]): boolean {
  outer: for (let i = 0; i + run.length <= haystack.length; i++) {
    for (let j = 0; j < run.length; j++) if (haystack[i + j] !== run[j]) continue outer;
    return true;
  }
  return false;
}

export function compileFilter(filter: LogFilter): CompiledFilter {
  const search = filter.q ? parseSearch(filter.q) : { terms: [], phrases: [] };
  const minRank = filter.level ? levelRank(filter.level) : 0;
  const fieldEntries = Object.entries(filter.fields ?? {});
  const indexTerms: string[] = [];
  if (filter.source !== undefined) indexTerms.push(sourceTerm(filter.source));
  for (const [name, value] of fieldEntries) {
    if (value.length <= MAX_INDEXED_VALUE_LENGTH) indexTerms.push(fieldTerm(name, value));
  }
  const tokens = [...new Set([...search.terms, ...search.phrases.flat()])];
  const tokenTerms = tokens.map(tokenTerm);
  const needsTokens = search.terms.length > 0 || search.phrases.length > 0;
  const contains = (filter.contains ?? []).filter((needle) => needle !== "");
  const storedText = storedFormText(minRank, filter.source, fieldEntries, tokens, contains);
  return {
    filter,
    levelMask: levelMaskAtLeast(filter.level ?? LOG_LEVELS[0]),
    indexTerms,
    tokenTerms,
    storedText,
    matches(entry) {
      if (filter.from !== undefined && entry.timestamp < filter.from) return false;
      if (filter.to !== undefined && entry.timestamp >= filter.to) return false;
      if (minRank > 0 && levelRank(entry.level) < minRank) return false;
      if (filter.source !== undefined && entry.source !== filter.source) return false;
      for (const [name, value] of fieldEntries) {
        const actual = entry.fields[name];
        if (actual === undefined || fieldText(actual) !== value) return false;
      }
      for (const needle of contains) if (!entry.message.includes(needle)) return false;
      if (needsTokens) {
        const tokens = tokenize(entry.message);
        const set = new Set(tokens);
        for (const term of search.terms) if (!set.has(term)) return false;
        for (const phrase of search.phrases) if (!containsRun(tokens, phrase)) return false;
      }
      return true;
    },
  };
}

/**
 * Substrings the stored JSON of every matching log contains. encodeEntry writes `"s":<JSON string>` and each field
 * as `<JSON name>:<JSON value>`, and JSON never escapes ASCII letters, digits or `_`, so each one is a necessary
 * condition (a message may contain the text too: that only costs a decode). Non-ASCII tokens are left to `matches`
 * (lowercasing outside ASCII is not a per-byte affair). A `contains` needle is part of the message's JSON string.
 */
function storedFormText(
  minRank: number,
  source: string | undefined,
  fields: readonly (readonly [string, string])[],
  tokens: readonly string[],
  contains: readonly string[],
): StoredFormText {
  // A field value matches as a JSON string or as the literal it is the text of (500, true, null).
  const anyOf: string[][] = fields.map(([name, value]) => {
    const key = `${JSON.stringify(name)}:`;
    return [key + JSON.stringify(value), key + value];
  });
  if (minRank > 0) anyOf.push(LOG_LEVELS.slice(minRank).map((level) => `"l":"${level}"`));
  const exact = source === undefined ? [] : [`"s":${JSON.stringify(source)}`];
  exact.push(...contains.flatMap(storedNeedle));
  return {
    exact,
    anyOf,
    words: tokens.filter((token) => /^[a-z0-9_]+$/.test(token)),
  };
}

/**
 * How a substring of the message reads inside its stored JSON string, or nothing to check in Redis. JSON.stringify
 * escapes a well-formed string code point by code point (`"` as `\"`, `\` as `\\`, controls as `\n` or `\u00XX`),
 * so the escaped needle occurs in the escaped message whenever the needle occurs in the message. A needle with a
 * lone surrogate is not well-formed: it may be half of a pair the stored form holds as UTF-8, so only `matches`
 * (on UTF-16 code units) can tell.
 */
function storedNeedle(needle: string): string[] {
  return needle.isWellFormed() ? [JSON.stringify(needle).slice(1, -1)] : [];
}

/** A compiled filter's Bloom terms, hashed once for all the batches and blocks one query probes. */
export interface IndexProbe {
  readonly compiled: CompiledFilter;
  readonly index: readonly BloomProbe[];
  readonly tokens: readonly BloomProbe[];
}

export function indexProbe(compiled: CompiledFilter): IndexProbe {
  return {
    compiled,
    index: compiled.indexTerms.map(bloomProbe),
    tokens: compiled.tokenTerms.map(bloomProbe),
  };
}

/** False when no log a batch's or block's summary describes can match; true means "read it". */
export function summaryMayMatch(probe: IndexProbe, summary: BlockSummary): boolean {
  const { filter, levelMask } = probe.compiled;
  if (filter.from !== undefined && summary.maxTs < filter.from) return false;
  if (filter.to !== undefined && summary.minTs >= filter.to) return false;
  if ((summary.levelMask & levelMask) === 0) return false;
  for (const term of probe.index) if (!bloomMayContainProbe(summary.bloom, term)) return false;
  if (summary.tokensComplete) {
    for (const term of probe.tokens) if (!bloomMayContainProbe(summary.bloom, term)) return false;
  }
  return true;
}

/**
 * Reads a filter from query parameters (`from`, `to`, `level`, `source`, `q`, `field.<name>`). Returns the
 * problems instead of throwing so the route can name them all in one 400.
 */
export function filterFromQuery(query: Readonly<Record<string, unknown>>): {
  filter: LogFilter;
  problems: string[];
} {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const value = query[name];
    if (value === undefined) return undefined;
    if (typeof value !== "string") {
      problems.push(`${name} must be given once`);
      return undefined;
    }
    return value;
  };
  const time = (name: string): number | undefined => {
    const value = text(name);
    if (value === undefined || value === "") return undefined;
    const parsed = parseTimestamp(value);
    if (!parsed) problems.push(`${name}="${value}" is not an ISO 8601 time or epoch number`);
    return parsed?.ms;
  };
  const from = time("from");
  const to = time("to");
  const levelText = text("level");
  let level: LogLevel | undefined;
  if (levelText !== undefined) {
    if ((LOG_LEVELS as readonly string[]).includes(levelText.toLowerCase()))
      level = levelText.toLowerCase() as LogLevel;
    else problems.push(`level="${levelText}" must be one of ${LOG_LEVELS.join(", ")}`);
  }
  const source = text("source");
  const q = text("q");
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) {
    if (!name.startsWith("field.")) continue;
    const fieldName = name.slice(6);
    if (!fieldName) problems.push("field. needs a field name (field.<name>=<value>)");
    else if (typeof value !== "string") problems.push(`${name} must be given once`);
    else fields[fieldName] = value;
  }
  const filter: LogFilter = {
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
    ...(level ? { level } : {}),
    ...(source !== undefined && source !== "" ? { source } : {}),
    ...(q ? { q } : {}),
    ...(Object.keys(fields).length ? { fields } : {}),
  };
  return { filter, problems };
}
