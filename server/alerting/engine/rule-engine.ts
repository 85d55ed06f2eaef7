/**
 * Evaluates rules against ingested batches. Conditions are compiled once per rule-set change and matched
 * in-process; the per-(rule, group) aggregates of a batch then go to Redis in ONE script call, which updates the
 * windows and decides firing atomically (see rule-state-script.ts). A timer calls `sweep()` for resolutions and
 * for rules that fire on the absence of logs.
 */
import type { LogEntry, StoredLogEntry } from "../../logs/log-entry.ts";
import { BatchView, prefilterOf, type Prefilter } from "./batch-view.ts";
import { compileCondition, readField, type LogPredicate } from "./condition.ts";
import type { RuleKeys } from "./keys.ts";
import { durationMs, type Rule } from "../../../contracts/rules/rule-schema.ts";
import type { RuleRedis } from "./rule-state-script.ts";

/** Rule parameters as the Lua scripts read them (short names keep the per-batch payload small). */
interface RuleParams {
  r: string;
  rev: number;
  t: Rule["type"];
  n: string;
  sev: string;
  gb: readonly string[];
  w: number;
  b: number;
  th: number;
  op: "above" | "below";
  agg?: string;
  pct?: number;
  f: string;
  dir: "up" | "down";
  ratio: number;
  minc: number;
  re: number;
  ra: number;
  nr: boolean;
  since: number;
  /** The sweep checks this rule's groups for firing (absence-type rules). */
  sw: boolean;
  grouped: boolean;
  /** How long a silent group is still remembered (ms). */
  keep: number;
}

interface CompiledRule {
  readonly rule: Rule;
  readonly params: RuleParams;
  /** `params` without the fields its type does not use: the apply script decodes it on every batch. */
  readonly wire: Partial<RuleParams>;
  readonly matches: LogPredicate;
  readonly prefilter: Prefilter;
  /** Rules with the same condition share it: a batch is matched once per distinct condition, not per rule. */
  readonly conditionKey: string;
}

/**
 * Per-batch aggregate of one (rule, group), sent to the apply script. `i` points into the batch's rule table (the
 * script reads the rule's parameters through it), so parameters travel once per rule, not once per group.
 */
interface BatchOp {
  [DISTINCT]?: Set<string>;
  [KNOWN]?: ReadonlySet<string>;
  i: number;
  g: string;
  c: number;
  ex?: string;
  s?: number;
  mx?: number;
  mn?: number;
  vs?: number[];
  vals?: string[];
  first?: string;
  last?: string;
  from?: string;
  inner?: boolean;
}

const MAX_GROUP_VALUE = 200;
const MAX_VALUES_PER_OP = 1000;
const MAX_SAMPLES_PER_OP = 50;
/** Per-replica memory of values already in Redis, so a batch only sends what Redis may not know (bounded). */
const MAX_REMEMBERED_VALUES = 20_000;

/**
 * Working state of an op while its batch is scanned, under symbol keys so JSON.stringify leaves it out: the
 * distinct values seen (sent as `vals`), and for new_value the values this replica knows Redis has.
 */
const DISTINCT = Symbol("distinct");
const KNOWN = Symbol("known");
const DEFAULT_RESOLVE_AFTER_MS = 5 * 60_000;

export function ruleParams(rule: Rule, since: number): RuleParams {
  const w = rule.window ? durationMs(rule.window) : 60_000;
  const op = rule.op ?? "above";
  const dir = rule.direction ?? "up";
  const sw =
    rule.type === "flatline" ||
    (rule.type === "spike" && dir === "down") ||
    ((rule.type === "cardinality" || rule.type === "aggregate") && op === "below");
  return {
    r: rule.id,
    rev: rule.updatedAt,
    t: rule.type,
    n: rule.name,
    sev: rule.severity ?? "warning",
    gb: rule.groupBy ?? [],
    w,
    // Count windows: ~60 buckets, exact to 1/60th of the window. Aggregates read every bucket per evaluation
    // (max, min and percentiles cannot be kept as running sums), so they use 12.
    b: Math.max(1_000, Math.floor(w / (rule.type === "aggregate" ? 12 : 60))),
    th: rule.threshold ?? 1,
    op,
    agg: rule.aggregation,
    pct: rule.percentile,
    f: rule.field ?? "message",
    dir,
    ratio: rule.ratio ?? 3,
    minc: rule.minCount ?? 10,
    re: rule.realert ? durationMs(rule.realert) : 0,
    ra: rule.resolveAfter ? durationMs(rule.resolveAfter) : rule.window ? w : DEFAULT_RESOLVE_AFTER_MS,
    nr: rule.notifyResolved ?? true,
    since,
    sw,
    grouped: (rule.groupBy?.length ?? 0) > 0,
    keep: Math.max(10 * w, 3_600_000),
  };
}

const WINDOWED = new Set(["frequency", "flatline", "spike", "cardinality", "aggregate"]);

/** The parameters a rule's type reads in the scripts; defaults the scripts assume are left out. */
export function wireParams(p: RuleParams): Partial<RuleParams> {
  const wire: Partial<RuleParams> = { r: p.r, rev: p.rev, t: p.t, n: p.n, sev: p.sev, since: p.since };
  if (p.gb.length > 0) wire.gb = p.gb;
  if (p.re > 0) wire.re = p.re;
  if (!p.nr) wire.nr = false;
  if (p.t === "any" || p.t === "new_value" || p.t === "change") wire.ra = p.ra;
  if (p.t === "new_value" || p.t === "cardinality" || p.t === "change") wire.f = p.f;
  if (WINDOWED.has(p.t)) Object.assign(wire, { w: p.w, b: p.b, th: p.th, op: p.op });
  if (p.t === "spike") Object.assign(wire, { dir: p.dir, ratio: p.ratio, minc: p.minc });
  if (p.t === "aggregate") Object.assign(wire, { agg: p.agg, pct: p.pct });
  if (p.sw) Object.assign(wire, { sw: true, grouped: p.grouped, keep: p.keep });
  return wire;
}

function scalarText(value: unknown): string {
  return value === undefined || value === null ? "" : String(value);
}

/** The map key of an entry's group within a batch (cheap); `groupJson` is what Redis sees. */
function groupKey(entry: LogEntry, groupBy: readonly string[]): string {
  if (groupBy.length === 0) return "";
  if (groupBy.length === 1) return scalarText(readField(entry, groupBy[0]!));
  return groupBy.map((name) => scalarText(readField(entry, name))).join("\u0000");
}

function groupJson(entry: LogEntry, groupBy: readonly string[]): string {
  if (groupBy.length === 0) return "";
  return JSON.stringify(groupBy.map((name) => scalarText(readField(entry, name)).slice(0, MAX_GROUP_VALUE)));
}

function numeric(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "") {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** Adds one matching entry to the batch aggregate of its (rule, group); false when the entry carries nothing for this rule type. */
function accumulate(params: RuleParams, op: BatchOp, entry: LogEntry): boolean {
  switch (params.t) {
    case "new_value":
    case "cardinality": {
      const v = readField(entry, params.f);
      if (v === undefined || v === null || v === "") return false;
      const text = String(v).slice(0, MAX_GROUP_VALUE);
      if (op[KNOWN]?.has(text)) return true;
      const set = (op[DISTINCT] ??= new Set());
      if (set.size < MAX_VALUES_PER_OP) set.add(text);
      return true;
    }
    case "change": {
      const v = readField(entry, params.f);
      if (v === undefined) return false;
      const text = scalarText(v).slice(0, MAX_GROUP_VALUE);
      if (op.first === undefined) op.first = text;
      else if (text !== op.last && !op.inner) {
        op.inner = true;
        op.from = op.last;
      }
      op.last = text;
      return true;
    }
    case "aggregate": {
      const n = numeric(readField(entry, params.f));
      if (n === undefined) return false;
      op.s = (op.s ?? 0) + n;
      op.mx = op.mx === undefined ? n : Math.max(op.mx, n);
      op.mn = op.mn === undefined ? n : Math.min(op.mn, n);
      const vs = (op.vs ??= []);
      // Reservoir sample: the percentile stays representative without shipping every value.
      if (vs.length < MAX_SAMPLES_PER_OP) vs.push(n);
      else {
        const j = Math.floor(Math.random() * (op.c + 1));
        if (j < MAX_SAMPLES_PER_OP) vs[j] = n;
      }
      return true;
    }
    default:
      return true;
  }
}

export interface RuleEngineOptions {
  readonly redis: RuleRedis;
  readonly keys: RuleKeys;
  /** Alerts kept (oldest resolved ones are trimmed by the sweep). Default 10,000. */
  readonly maxAlerts?: number;
  /**
   * A rule whose compilation, matching or script work failed: the other rules are still evaluated. Without it,
   * the first failure is thrown (rule tests report it to the caller).
   */
  readonly onRuleError?: (ruleId: string, error: Error) => void;
}

/** A rule's evaluation failed (in-process or in the rule script); the message is safe to show on the rule. */
export class RuleEvaluationError extends Error {
  override readonly name = "RuleEvaluationError";
  readonly ruleId: string;
  constructor(ruleId: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.ruleId = ruleId;
  }
}

export class RuleEngine {
  private compiled: CompiledRule[] = [];
  private knownValues = new Map<string, Set<string>>();
  private recentValues = new Map<string, Map<string, number>>();
  /** `any` alerts this replica touched lately (dedup key → ms); see `touchDue`. */
  private touched = new Map<string, number>();
  private disabledIds: string[] = [];
  private readonly redis: RuleRedis;
  private readonly keys: RuleKeys;
  private readonly maxAlerts: number;
  private readonly onRuleError?: (ruleId: string, error: Error) => void;

  constructor(options: RuleEngineOptions) {
    this.redis = options.redis;
    this.keys = options.keys;
    this.maxAlerts = options.maxAlerts ?? 10_000;
    this.onRuleError = options.onRuleError;
  }

  private ruleFailed(ruleId: string, error: unknown): void {
    const failure =
      error instanceof RuleEvaluationError
        ? error
        : new RuleEvaluationError(ruleId, error instanceof Error ? error.message : String(error), {
            cause: error,
          });
    if (!this.onRuleError) throw failure;
    this.onRuleError(ruleId, failure);
  }

  /** The `[rule id, message, …]` pairs a script returned. */
  private scriptFailures(errs: readonly string[] | undefined): void {
    for (let i = 0; i + 1 < (errs?.length ?? 0); i += 2) {
      this.ruleFailed(errs![i]!, new RuleEvaluationError(errs![i]!, errs![i + 1]!));
    }
  }

  /** Replaces the active rule set. `since` overrides when windows start counting (rule tests replay history). */
  setRules(rules: readonly Rule[], since?: number): void {
    this.knownValues = new Map();
    this.recentValues = new Map();
    this.touched = new Map();
    this.disabledIds = rules.filter((rule) => rule.enabled === false).map((rule) => rule.id);
    this.compiled = [];
    for (const rule of rules) {
      if (rule.enabled === false) continue;
      try {
        this.compiled.push({
          rule,
          params: ruleParams(rule, since ?? rule.updatedAt),
          wire: wireParams(ruleParams(rule, since ?? rule.updatedAt)),
          matches: compileCondition(rule.when),
          prefilter: prefilterOf(rule.when),
          conditionKey: JSON.stringify(rule.when ?? null),
        });
      } catch (error) {
        // One rule that does not compile leaves it out, not the whole rule set.
        this.ruleFailed(rule.id, error);
      }
    }
  }

  get ruleCount(): number {
    return this.compiled.length;
  }

  /** The batch's aggregates per matched (rule, group); empty when nothing matched. */
  /**
   * Keeps only the values Redis may not have: new_value needs each value once (a value seen stays seen);
   * cardinality needs each value's last-seen time to bucket precision. False when nothing is left to send, which
   * cannot change the outcome (no new value; a distinct count that did not grow cannot newly exceed a threshold,
   * and "below" is checked by the sweep).
   */
  private knownSet(params: RuleParams, g: string): Set<string> {
    const key = `${params.r}\u0000${params.rev}\u0000${g}`;
    let known = this.knownValues.get(key);
    if (!known) this.knownValues.set(key, (known = new Set()));
    if (known.size > MAX_REMEMBERED_VALUES) known.clear();
    return known;
  }

  private unsentValues(params: RuleParams, op: BatchOp, now: number): boolean {
    const values = op[DISTINCT];
    if (!values) return false;
    const key = `${params.r}\u0000${params.rev}\u0000${op.g}`;
    const vals: string[] = [];
    if (params.t === "new_value") {
      const known = this.knownSet(params, op.g);
      for (const v of values) if (!known.has(v)) vals.push(v);
      // Redis holds them once this batch is applied; a failed apply only costs a resend.
      for (const v of vals) known.add(v);
    } else {
      let recent = this.recentValues.get(key);
      if (!recent) this.recentValues.set(key, (recent = new Map()));
      if (recent.size > MAX_REMEMBERED_VALUES) recent.clear();
      for (const v of values) {
        const sent = recent.get(v);
        if (sent !== undefined && now - sent < params.b && now >= sent) continue;
        recent.set(v, now);
        vals.push(v);
      }
    }
    op.vals = vals;
    return vals.length > 0;
  }

  /**
   * An `any` match only opens the alert or keeps it alive (last seen, realert). Once this replica has sent a
   * group's match, the alert is firing, so further matches within a short interval change nothing that matters:
   * they are not sent. The alert's `count` then counts evaluations that touched it, not single logs.
   */
  private touchDue(params: RuleParams, op: BatchOp, now: number): boolean {
    const key = `${params.r}|${op.g}`;
    const last = this.touched.get(key);
    const interval = Math.min(1_000, params.ra / 2, params.re > 0 ? params.re / 2 : Infinity);
    if (last !== undefined && now >= last && now - last < interval) return false;
    if (this.touched.size > MAX_REMEMBERED_VALUES) this.touched.clear();
    this.touched.set(key, now);
    return true;
  }

  private batchOps(entries: readonly LogEntry[], now: number): { rules: RuleParams[]; ops: BatchOp[] } {
    const rules: RuleParams[] = [];
    const ops: BatchOp[] = [];
    const view = new BatchView(entries);
    const matchedBy = new Map<string, readonly LogEntry[]>();
    for (const compiled of this.compiled) {
      try {
        const used = this.ruleOps(compiled, view, matchedBy, rules.length + 1, now); // Lua arrays start at 1
        if (used.length === 0) continue;
        ops.push(...used);
        rules.push(compiled.wire as RuleParams);
      } catch (error) {
        this.ruleFailed(compiled.params.r, error);
      }
    }
    return { rules, ops };
  }

  /** One rule's aggregates of the batch; `i` is its index in the batch's rule table. */
  private ruleOps(
    { params, matches, prefilter, conditionKey }: CompiledRule,
    view: BatchView,
    matchedBy: Map<string, readonly LogEntry[]>,
    i: number,
    now: number,
  ): BatchOp[] {
    const ops: BatchOp[] = [];
    // A change rule compares values in arrival order; the others do not care about order.
    const ordered = params.t === "change";
    const memo = ordered ? `ordered ${conditionKey}` : conditionKey;
    let matched = matchedBy.get(memo);
    if (!matched) {
      matched = view.candidates(prefilter, ordered).filter(matches);
      matchedBy.set(memo, matched);
    }
    let byGroup: Map<string, BatchOp> | undefined;
    const grouped = params.gb.length > 0;
    let single: BatchOp | undefined;
    for (const entry of matched) {
      byGroup ??= new Map();
      // Without group-by there is one group: no key to build, no map lookup per entry.
      const key = grouped ? groupKey(entry, params.gb) : "";
      let op = grouped ? byGroup.get(key) : single;
      if (!op) {
        op = { i, g: groupJson(entry, params.gb), c: 0 };
        byGroup.set(key, op);
        if (!grouped) single = op;
        if (params.t === "new_value") op[KNOWN] = this.knownSet(params, op.g);
      }
      if (!accumulate(params, op, entry)) continue;
      // The example is the entry's id: the alert links to the log; notifications look it up off the ingest path.
      if (op.c === 0) op.ex = (entry as Partial<StoredLogEntry>).id;
      op.c += 1;
    }
    if (!byGroup) return ops;
    for (const op of byGroup.values()) {
      if (op.c === 0) continue;
      if ((params.t === "new_value" || params.t === "cardinality") && !this.unsentValues(params, op, now))
        continue;
      if (params.t === "any" && !this.touchDue(params, op, now)) continue;
      ops.push(op);
    }
    return ops;
  }

  /**
   * Evaluates a batch; returns the ids of alerts it opened. `now` is the evaluation time in ms; 0 means the
   * Redis server clock, so replicas with skewed clocks still agree on windows.
   */
  async evaluate(entries: readonly LogEntry[], now = 0): Promise<string[]> {
    if (this.compiled.length === 0 || entries.length === 0) return [];
    const batch = this.batchOps(entries, now || Date.now());
    if (batch.ops.length === 0) return [];
    let result: [string[], string[]];
    try {
      result = await this.redis.nlRulesApply(
        this.keys.activeAlerts,
        this.keys.prefix,
        String(now),
        JSON.stringify(batch),
      );
    } catch (error) {
      // The whole script failed (Redis unreachable, out of memory): none of the batch's rules saw it.
      if (this.onRuleError) for (const rule of batch.rules) this.ruleFailed(rule.r, error);
      throw error;
    }
    this.scriptFailures(result[1]);
    return result[0];
  }

  /** Resolves cleared alerts and fires absence-type rules; returns counts. */
  /**
   * `lockMs` > 0: skip when another replica swept within that time (live sweeps); 0: always sweep (rule tests,
   * which sweep in simulated time).
   */
  async sweep(now = 0, lockMs = 0): Promise<{ fired: number; resolved: number }> {
    const rules: Record<string, RuleParams | { off: true }> = {};
    for (const { params } of this.compiled) rules[params.r] = params;
    for (const id of this.disabledIds) rules[id] = { off: true };
    const [fired = 0, resolved = 0, errs] = await this.redis.nlRulesSweep(
      this.keys.activeAlerts,
      this.keys.prefix,
      String(now),
      JSON.stringify(rules),
      String(this.maxAlerts),
      String(lockMs),
    );
    this.scriptFailures(errs);
    return { fired, resolved };
  }
}
