/**
 * LogQL text → syntax tree (logql-ast.ts), by recursive descent over the lexer's tokens. It accepts the subset
 * the README lists and refuses the rest of LogQL by name (`LogqlError`, "... is not supported"), so a query this
 * server cannot answer exactly is never answered approximately. Regular expressions are compiled here, once, by
 * RE2 (contracts/rules/user-regex.ts: linear time, the server's one rule for user patterns).
 */
import { compileUserRegex } from "../../contracts/rules/user-regex.ts";
import type {
  ArithmeticOp,
  CompareOp,
  Grouping,
  LabelListStage,
  LabelMatcher,
  LabelPredicate,
  LineFilterOp,
  LogSelectorExpr,
  LogqlExpr,
  MatchOp,
  MetricExpr,
  NumberUnit,
  ParserStage,
  PipelineStage,
  RangeFunction,
  VectorOp,
} from "./logql-ast.ts";
import { compileLineTemplate } from "./line-template.ts";
import { LogqlError, tokenize, type Token } from "./logql-lexer.ts";
import { parseBytes, parseDurationMs } from "./logql-units.ts";

const RANGE_FUNCTIONS = new Set<string>(["count_over_time", "rate", "bytes_over_time", "bytes_rate"]);
/** LogQL functions that exist but are not evaluated here: refused by name. */
const UNSUPPORTED_RANGE_FUNCTIONS = new Set([
  "sum_over_time",
  "avg_over_time",
  "max_over_time",
  "min_over_time",
  "first_over_time",
  "last_over_time",
  "stdvar_over_time",
  "stddev_over_time",
  "quantile_over_time",
  "absent_over_time",
  "rate_counter",
]);
const VECTOR_OPS = new Set<string>(["sum", "count", "min", "max", "avg", "topk", "bottomk"]);
const UNSUPPORTED_FUNCTIONS = new Set([
  "stddev",
  "stdvar",
  "sort",
  "sort_desc",
  "approx_topk",
  "label_replace",
  "absent",
  "scalar",
  "time",
]);
const UNSUPPORTED_STAGES = new Set([
  "regexp",
  "pattern",
  "unpack",
  "label_format",
  "unwrap",
  "decolorize",
  "distinct",
]);
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const SUPPORTED_SUMMARY =
  "stream selectors (=, !=, =~, !~), line filters (|=, !=, |~, !~), | json, | logfmt, label filters, | line_format, | drop, | keep, count_over_time, rate, bytes_over_time, bytes_rate, sum, count, min, max, avg, topk, bottomk (by/without), vector(n) and + - * / with numbers";

function unsupported(what: string, at: Token): LogqlError {
  return new LogqlError(`${what} is not supported by this server (it supports ${SUPPORTED_SUMMARY})`, at);
}

function describe(token: Token): string {
  if (token.kind === "eof") return "end of query";
  if (token.kind === "string") return `STRING ${JSON.stringify(token.text)}`;
  if (token.kind === "ident") return `IDENTIFIER ${token.text}`;
  if (token.kind === "number" || token.kind === "quantity") return `NUMBER ${token.text}`;
  return JSON.stringify(token.text);
}

/** Compiles a regex the way this matcher applies it (anchored for label matchers), or throws the 400. */
function checkRegex(pattern: string, anchored: boolean, at: Token): void {
  const compiled = compileUserRegex(anchored ? `^(?:${pattern})$` : pattern, false);
  if (!compiled.ok) throw new LogqlError(compiled.problem, at);
}

class Parser {
  private pos = 0;
  private readonly tokens: Token[];
  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  private get peek(): Token {
    return this.tokens[this.pos]!;
  }
  private next(): Token {
    return this.tokens[this.pos++]!;
  }
  private isOp(text: string, offset = 0): boolean {
    const t = this.tokens[this.pos + offset];
    return t?.kind === "op" && t.text === text;
  }
  private isIdent(text: string): boolean {
    return this.peek.kind === "ident" && this.peek.text === text;
  }
  private fail(expecting?: string): never {
    throw new LogqlError(
      `syntax error: unexpected ${describe(this.peek)}${expecting ? `, expecting ${expecting}` : ""}`,
      this.peek,
    );
  }
  private expectOp(text: string): Token {
    if (!this.isOp(text)) this.fail(JSON.stringify(text));
    return this.next();
  }
  private expectString(): Token {
    if (this.peek.kind !== "string") this.fail("STRING");
    return this.next();
  }
  private expectLabelName(): string {
    if (this.peek.kind !== "ident") this.fail("IDENTIFIER");
    return this.next().text;
  }

  parseQuery(): LogqlExpr {
    const expr = this.parseAdditive();
    if (this.peek.kind !== "eof") this.fail();
    return expr;
  }

  private parseAdditive(): LogqlExpr {
    let left = this.parseMultiplicative();
    while (this.isOp("+") || this.isOp("-")) {
      const opToken = this.next();
      this.refuseModifier();
      const right = this.parseMultiplicative();
      left = this.binary(opToken, left, right);
    }
    this.refuseComparison();
    return left;
  }

  private parseMultiplicative(): LogqlExpr {
    let left = this.parseUnary();
    while (this.isOp("*") || this.isOp("/") || this.isOp("%") || this.isOp("^")) {
      const opToken = this.next();
      if (opToken.text === "%" || opToken.text === "^")
        throw unsupported(`the ${opToken.text} operator`, opToken);
      const right = this.parseUnary();
      left = this.binary(opToken, left, right);
    }
    return left;
  }

  private refuseComparison(): void {
    const t = this.peek;
    if (t.kind === "op" && ["==", "!=", ">", ">=", "<", "<="].includes(t.text))
      throw unsupported(`comparison between metric expressions (${t.text})`, t);
    if (t.kind === "ident" && ["and", "or", "unless"].includes(t.text))
      throw unsupported(`the set operator ${t.text}`, t);
  }

  /** Vector matching modifiers come right after the operator. */
  private refuseModifier(): void {
    if (["bool", "on", "ignoring", "group_left", "group_right"].some((m) => this.isIdent(m)))
      throw unsupported(`the ${this.peek.text} modifier`, this.peek);
  }

  private binary(opToken: Token, left: LogqlExpr, right: LogqlExpr): MetricExpr {
    if (left.kind === "log" || right.kind === "log")
      throw new LogqlError("syntax error: unexpected log expression in a binary operation", opToken);
    return { kind: "binary", op: opToken.text as ArithmeticOp, left, right };
  }

  private parseUnary(): LogqlExpr {
    const t = this.peek;
    if (t.kind === "op" && t.text === "(") {
      this.next();
      const inner = this.parseAdditive();
      this.expectOp(")");
      return inner;
    }
    if (t.kind === "op" && t.text === "-" && this.tokens[this.pos + 1]?.kind === "number") {
      this.next();
      return { kind: "number", value: -Number(this.next().text) };
    }
    if (t.kind === "number") return { kind: "number", value: Number(this.next().text) };
    if (t.kind === "op" && t.text === "{") return this.parseLogExpr();
    if (t.kind === "ident") return this.parseFunction();
    return this.fail("a stream selector {...} or a metric expression");
  }

  private parseFunction(): MetricExpr {
    const name = this.peek;
    if (RANGE_FUNCTIONS.has(name.text)) return this.parseRangeAggregation();
    if (VECTOR_OPS.has(name.text)) return this.parseVectorAggregation();
    if (name.text === "vector") {
      this.next();
      this.expectOp("(");
      const value = this.peek;
      if (value.kind !== "number") this.fail("NUMBER");
      this.next();
      this.expectOp(")");
      return { kind: "vector", value: Number(value.text) };
    }
    if (UNSUPPORTED_RANGE_FUNCTIONS.has(name.text) || UNSUPPORTED_FUNCTIONS.has(name.text))
      throw unsupported(`the function ${name.text}`, name);
    return this.fail("a stream selector {...} or a metric expression");
  }

  private parseRangeAggregation(): MetricExpr {
    const fn = this.next().text as RangeFunction;
    this.expectOp("(");
    let log: LogSelectorExpr;
    let rangeMs: number;
    if (this.isOp("(")) {
      // count_over_time(({app="a"} |= "x")[5m])
      this.next();
      log = this.parseLogExpr();
      this.expectOp(")");
      rangeMs = this.parseRange();
    } else {
      const matchers = this.parseSelector();
      let pipeline: PipelineStage[];
      if (this.isOp("[")) {
        // {app="a"}[5m] |= "x": the older place of the range.
        rangeMs = this.parseRange();
        pipeline = this.parsePipeline();
      } else {
        pipeline = this.parsePipeline();
        rangeMs = this.parseRange();
      }
      log = { kind: "log", matchers, pipeline };
    }
    let offsetMs = 0;
    if (this.isIdent("offset")) {
      this.next();
      offsetMs = this.parseDurationToken();
    }
    if (this.isIdent("by") || this.isIdent("without"))
      throw unsupported(`grouping inside ${fn} (it applies to unwrapped ranges only)`, this.peek);
    this.expectOp(")");
    return { kind: "range", fn, log, rangeMs, offsetMs };
  }

  private parseRange(): number {
    this.expectOp("[");
    const ms = this.parseDurationToken();
    if (ms <= 0) throw new LogqlError("syntax error: the range must be positive", this.peek);
    this.expectOp("]");
    if (this.isOp("[")) throw unsupported("subqueries", this.peek);
    return ms;
  }

  private parseDurationToken(): number {
    const t = this.peek;
    if (t.kind !== "quantity") this.fail("DURATION");
    this.next();
    const ms = parseDurationMs(t.text);
    if (ms === undefined)
      throw new LogqlError(`syntax error: ${JSON.stringify(t.text)} is not a duration`, t);
    return ms;
  }

  private parseGrouping(): Grouping {
    const without = this.next().text === "without";
    this.expectOp("(");
    const labels: string[] = [];
    while (!this.isOp(")")) {
      labels.push(this.expectLabelName());
      if (!this.isOp(",")) break;
      this.next();
    }
    this.expectOp(")");
    return { without, labels };
  }

  private parseVectorAggregation(): MetricExpr {
    const opToken = this.next();
    const op = opToken.text as VectorOp;
    let grouping: Grouping | undefined;
    if (this.isIdent("by") || this.isIdent("without")) grouping = this.parseGrouping();
    this.expectOp("(");
    let param: number | undefined;
    if (op === "topk" || op === "bottomk") {
      const k = this.peek;
      if (k.kind !== "number") this.fail("NUMBER");
      this.next();
      param = Number(k.text);
      if (!Number.isInteger(param) || param < 1)
        throw new LogqlError(`syntax error: ${op}'s parameter must be a positive integer`, k);
      this.expectOp(",");
    }
    const inner = this.parseAdditive();
    if (inner.kind === "log")
      throw new LogqlError(`syntax error: ${op} needs a metric expression, not a log query`, opToken);
    this.expectOp(")");
    if (this.isIdent("by") || this.isIdent("without")) {
      if (grouping) this.fail();
      grouping = this.parseGrouping();
    }
    return {
      kind: "aggregate",
      op,
      inner,
      ...(grouping ? { grouping } : {}),
      ...(param !== undefined ? { param } : {}),
    };
  }

  private parseLogExpr(): LogSelectorExpr {
    const matchers = this.parseSelector();
    const pipeline = this.parsePipeline();
    return { kind: "log", matchers, pipeline };
  }

  private parseSelector(): LabelMatcher[] {
    const open = this.expectOp("{");
    const matchers: LabelMatcher[] = [];
    while (!this.isOp("}")) {
      matchers.push(this.parseMatcher(true));
      if (!this.isOp(",")) break;
      this.next();
    }
    this.expectOp("}");
    if (!matchers.some((m) => !matchesEmpty(m)))
      throw new LogqlError(
        'queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will',
        open,
      );
    return matchers;
  }

  private parseMatcher(anchored: boolean): LabelMatcher {
    const name = this.expectLabelName();
    const opToken = this.peek;
    if (!(opToken.kind === "op" && ["=", "!=", "=~", "!~"].includes(opToken.text)))
      this.fail("=, !=, =~ or !~");
    this.next();
    const value = this.expectString();
    if (opToken.text === "=~" || opToken.text === "!~") checkRegex(value.text, anchored, value);
    return { name, op: opToken.text as MatchOp, value: value.text };
  }

  private parsePipeline(): PipelineStage[] {
    const stages: PipelineStage[] = [];
    for (;;) {
      const t = this.peek;
      if (t.kind !== "op") return stages;
      if (t.text === "|=" || t.text === "|~" || t.text === "!=" || t.text === "!~") {
        stages.push(this.parseLineFilter());
      } else if (t.text === "|>" || t.text === "!>") {
        throw unsupported(`the pattern line filter ${t.text}`, t);
      } else if (t.text === "|") {
        this.next();
        stages.push(this.parseStage());
      } else return stages;
    }
  }

  private parseLineFilter(): PipelineStage {
    const op = this.next().text as LineFilterOp;
    const values: string[] = [];
    for (;;) {
      if (this.isIdent("ip")) throw unsupported("the ip() line filter", this.peek);
      const value = this.expectString();
      if (op === "|~" || op === "!~") checkRegex(value.text, false, value);
      values.push(value.text);
      if (!this.isIdent("or")) break;
      this.next();
    }
    return { kind: "line", op, values };
  }

  private parseStage(): PipelineStage {
    const t = this.peek;
    if (t.kind === "ident") {
      if (t.text === "json" || t.text === "logfmt") return this.parseParser();
      if (t.text === "line_format") {
        this.next();
        const template = this.expectString();
        try {
          compileLineTemplate(template.text);
        } catch (error) {
          throw new LogqlError((error as Error).message, template);
        }
        return { kind: "lineFormat", template: template.text };
      }
      if (t.text === "drop" || t.text === "keep") return this.parseLabelList();
      if (UNSUPPORTED_STAGES.has(t.text)) throw unsupported(`the ${t.text} stage`, t);
    }
    if (t.kind === "ident" || (t.kind === "op" && t.text === "(")) {
      return { kind: "labelFilter", predicate: this.parsePredicateOr() };
    }
    return this.fail("a parser, a label filter, line_format, drop or keep");
  }

  private parseParser(): ParserStage {
    const kind = this.next().text as "json" | "logfmt";
    if (this.isOp("-")) throw unsupported(`flags of ${kind} (--strict, --keep-empty)`, this.peek);
    const extract: { label: string; path: string }[] = [];
    while (this.peek.kind === "ident" && !this.isPipelineEnd()) {
      const label = this.next().text;
      let path = label;
      if (this.isOp("=")) {
        this.next();
        path = this.expectString().text;
        if (kind === "json" && !/^[a-zA-Z0-9_.-]+$/.test(path))
          throw unsupported(
            `the json expression ${JSON.stringify(path)} (only dotted field paths)`,
            this.peek,
          );
      }
      extract.push({ label, path });
      if (!this.isOp(",")) break;
      this.next();
    }
    return { kind, extract };
  }

  /** After `| json`, an identifier starts a parameter unless it is a keyword that ends the stage. */
  private isPipelineEnd(): boolean {
    return ["offset", "by", "without", "or", "and"].includes(this.peek.text);
  }

  private parseLabelList(): LabelListStage {
    const kind = this.next().text as "drop" | "keep";
    const labels: { name: string; matcher?: LabelMatcher }[] = [];
    for (;;) {
      const name = this.peek;
      if (name.kind !== "ident") this.fail("IDENTIFIER");
      if (
        this.tokens[this.pos + 1]?.kind === "op" &&
        ["=", "!=", "=~", "!~"].includes(this.tokens[this.pos + 1]!.text)
      ) {
        const matcher = this.parseMatcher(true);
        labels.push({ name: matcher.name, matcher });
      } else labels.push({ name: this.next().text });
      if (!this.isOp(",")) break;
      this.next();
    }
    return { kind, labels };
  }

  private parsePredicateOr(): LabelPredicate {
    let left = this.parsePredicateAnd();
    while (this.isIdent("or")) {
      this.next();
      left = { kind: "or", left, right: this.parsePredicateAnd() };
    }
    return left;
  }

  private parsePredicateAnd(): LabelPredicate {
    let left = this.parsePredicateTerm();
    while (this.isIdent("and") || (this.isOp(",") && this.tokens[this.pos + 1]?.kind === "ident")) {
      this.next();
      left = { kind: "and", left, right: this.parsePredicateTerm() };
    }
    return left;
  }

  private parsePredicateTerm(): LabelPredicate {
    if (this.isOp("(")) {
      this.next();
      const inner = this.parsePredicateOr();
      this.expectOp(")");
      return inner;
    }
    const nameToken = this.peek;
    const name = this.expectLabelName();
    if (!LABEL_NAME.test(name)) this.fail();
    const opToken = this.peek;
    if (opToken.kind !== "op") this.fail("a comparison");
    const op = opToken.text;
    if (!["=", "!=", "=~", "!~", "==", ">", ">=", "<", "<="].includes(op)) this.fail("a comparison");
    this.next();
    const value = this.peek;
    if (this.isIdent("ip")) throw unsupported("the ip() label filter", value);
    if (value.kind === "string") {
      if (["==", ">", ">=", "<", "<="].includes(op))
        throw new LogqlError(`syntax error: ${op} compares numbers, durations or sizes, not strings`, value);
      this.next();
      if (op === "=~" || op === "!~") checkRegex(value.text, true, value);
      return { kind: "string", name, op: op as MatchOp, value: value.text };
    }
    if (op === "=~" || op === "!~") this.fail("STRING");
    const negative = this.isOp("-") && ["number", "quantity"].includes(this.tokens[this.pos + 1]?.kind ?? "");
    if (negative) this.next();
    const literal = this.peek;
    if (literal.kind !== "number" && literal.kind !== "quantity")
      this.fail("STRING, NUMBER, DURATION or BYTES");
    this.next();
    let unit: NumberUnit = "number";
    let amount: number | undefined;
    if (literal.kind === "number") amount = Number(literal.text);
    else {
      const ms = parseDurationMs(literal.text);
      if (ms !== undefined) {
        unit = "duration";
        amount = ms / 1000;
      } else {
        amount = parseBytes(literal.text);
        unit = "bytes";
      }
      if (amount === undefined)
        throw new LogqlError(
          `syntax error: ${JSON.stringify(literal.text)} is not a number, duration or size`,
          literal,
        );
    }
    void nameToken;
    const compare: CompareOp = op === "=" ? "==" : (op as CompareOp);
    return { kind: "number", name, op: compare, value: negative ? -amount : amount, unit };
  }
}

/** True when the matcher also matches a missing label (Loki needs one matcher that does not). */
function matchesEmpty(m: LabelMatcher): boolean {
  if (m.op === "=") return m.value === "";
  if (m.op === "!=") return m.value !== "";
  const compiled = compileUserRegex(`^(?:${m.value})$`, false);
  const matches = compiled.ok && compiled.regex.test("");
  return m.op === "=~" ? matches : !matches;
}

/** Parses a LogQL query; throws `LogqlError` (a 400 naming the problem and where it is). */
export function parseLogql(query: string): LogqlExpr {
  if (query.trim() === "") throw new LogqlError("syntax error: the query is empty");
  return new Parser(tokenize(query)).parseQuery();
}

/** Parses a `{...}` selector with an optional pipeline only (series, tail, index stats): metric queries are a 400. */
export function parseLogSelector(query: string): LogSelectorExpr {
  const expr = parseLogql(query);
  if (expr.kind !== "log")
    throw new LogqlError(`syntax error: expected a log selector {...}, got a metric query`);
  return expr;
}
