/**
 * Cheap pre-selection of the entries a rule can match. Most rules name a source or a minimum level; a batch is
 * split by source and by level once, and each rule then runs its full predicate only over the entries that can
 * match, instead of over the whole batch — what keeps 200 rules affordable on the ingest path.
 */
import { levelRank, type LogEntry, type LogLevel } from "../../logs/log-entry.ts";
import { LEVEL_RANK } from "./condition.ts";
import type { Condition } from "../../../contracts/rules/rule-schema.ts";

/** What every entry matching a condition must satisfy (necessary, not sufficient). */
export interface Prefilter {
  /** The entry's source is one of these. */
  readonly sources?: ReadonlySet<string>;
  /** The entry's level rank is at least this. */
  readonly minLevel: number;
}

export function prefilterOf(condition: Condition | undefined): Prefilter {
  if (!condition) return { minLevel: 0 };
  if (condition.level !== undefined) return { minLevel: levelRank(condition.level as LogLevel) };
  if (condition.field === "source" && condition.ignoreCase !== true) {
    if (typeof condition.equals === "string") return { sources: new Set([condition.equals]), minLevel: 0 };
    if (condition.in?.every((v) => typeof v === "string"))
      return { sources: new Set(condition.in as string[]), minLevel: 0 };
  }
  if (condition.all) {
    let sources: Set<string> | undefined;
    let minLevel = 0;
    for (const child of condition.all) {
      const p = prefilterOf(child);
      minLevel = Math.max(minLevel, p.minLevel);
      if (p.sources)
        sources = sources ? new Set([...sources].filter((s) => p.sources!.has(s))) : new Set(p.sources);
    }
    return sources ? { sources, minLevel } : { minLevel };
  }
  return { minLevel: 0 };
}

/** A batch, indexed lazily by source and by level. */
export class BatchView {
  readonly entries: readonly LogEntry[];
  private bySource?: Map<string, LogEntry[]>;
  private readonly atLeast: (LogEntry[] | undefined)[] = [];

  constructor(entries: readonly LogEntry[]) {
    this.entries = entries;
  }

  /**
   * The entries that may match, in batch order unless the rule names sources (then grouped by source; callers
   * that need arrival order pass `ordered`).
   */
  candidates(p: Prefilter, ordered: boolean): readonly LogEntry[] {
    if (p.sources && !ordered) {
      this.bySource ??= this.indexSources();
      const out: LogEntry[] = [];
      for (const source of p.sources) {
        const list = this.bySource.get(source);
        if (list) for (const e of list) if ((LEVEL_RANK[e.level] ?? 0) >= p.minLevel) out.push(e);
      }
      return out;
    }
    if (p.minLevel <= 0) return this.entries;
    let list = this.atLeast[p.minLevel];
    if (!list) {
      list = this.entries.filter((e) => (LEVEL_RANK[e.level] ?? 0) >= p.minLevel);
      this.atLeast[p.minLevel] = list;
    }
    return list;
  }

  private indexSources(): Map<string, LogEntry[]> {
    const map = new Map<string, LogEntry[]>();
    for (const e of this.entries) {
      const list = map.get(e.source);
      if (list) list.push(e);
      else map.set(e.source, [e]);
    }
    return map;
  }
}
