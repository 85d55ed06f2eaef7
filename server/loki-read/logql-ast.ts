/**
 * The LogQL this server evaluates, as a syntax tree: what `parseLogql` (logql-parser.ts) produces and the
 * evaluators read. Only the constructs listed here exist; everything else LogQL has is refused by the parser with
 * a message naming it (never approximated).
 */

export type MatchOp = "=" | "!=" | "=~" | "!~";

/** `name op "value"` inside `{...}`. */
export interface LabelMatcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
}

export type LineFilterOp = "|=" | "!=" | "|~" | "!~";

/** `|= "a"` (or `|= "a" or "b"`): the values are alternatives. */
export interface LineFilterStage {
  readonly kind: "line";
  readonly op: LineFilterOp;
  readonly values: readonly string[];
}

export type CompareOp = "==" | "!=" | ">" | ">=" | "<" | "<=";

/** What a numeric label filter compares: plain numbers, Go durations (`10s`) or byte sizes (`20MB`). */
export type NumberUnit = "number" | "duration" | "bytes";

export type LabelPredicate =
  | { readonly kind: "string"; readonly name: string; readonly op: MatchOp; readonly value: string }
  | {
      readonly kind: "number";
      readonly name: string;
      readonly op: CompareOp;
      /** Plain number, seconds for durations, bytes for sizes. */
      readonly value: number;
      readonly unit: NumberUnit;
    }
  | { readonly kind: "and" | "or"; readonly left: LabelPredicate; readonly right: LabelPredicate };

export interface LabelFilterStage {
  readonly kind: "labelFilter";
  readonly predicate: LabelPredicate;
}

/** `| json` or `| json a="x.y", b` (label = path). */
export interface ParserStage {
  readonly kind: "json" | "logfmt";
  readonly extract: readonly { readonly label: string; readonly path: string }[];
}

export interface LineFormatStage {
  readonly kind: "lineFormat";
  readonly template: string;
}

/** `| drop a, b="x"` / `| keep a`. */
export interface LabelListStage {
  readonly kind: "drop" | "keep";
  readonly labels: readonly { readonly name: string; readonly matcher?: LabelMatcher }[];
}

export type PipelineStage =
  LineFilterStage | LabelFilterStage | ParserStage | LineFormatStage | LabelListStage;

export interface LogSelectorExpr {
  readonly kind: "log";
  readonly matchers: readonly LabelMatcher[];
  readonly pipeline: readonly PipelineStage[];
}

export type RangeFunction = "count_over_time" | "rate" | "bytes_over_time" | "bytes_rate";

export interface RangeAggregationExpr {
  readonly kind: "range";
  readonly fn: RangeFunction;
  readonly log: LogSelectorExpr;
  readonly rangeMs: number;
  readonly offsetMs: number;
}

export type VectorOp = "sum" | "count" | "min" | "max" | "avg" | "topk" | "bottomk";

export interface Grouping {
  readonly without: boolean;
  readonly labels: readonly string[];
}

export interface VectorAggregationExpr {
  readonly kind: "aggregate";
  readonly op: VectorOp;
  readonly grouping?: Grouping;
  /** k of topk/bottomk. */
  readonly param?: number;
  readonly inner: MetricExpr;
}

/** `vector(1)`: one label-less sample at every step (Grafana's data source health check sends `vector(1)+vector(1)`). */
export interface VectorLiteralExpr {
  readonly kind: "vector";
  readonly value: number;
}

export interface NumberLiteralExpr {
  readonly kind: "number";
  readonly value: number;
}

export type ArithmeticOp = "+" | "-" | "*" | "/";

export interface BinaryExpr {
  readonly kind: "binary";
  readonly op: ArithmeticOp;
  readonly left: MetricExpr;
  readonly right: MetricExpr;
}

export type MetricExpr =
  RangeAggregationExpr | VectorAggregationExpr | VectorLiteralExpr | NumberLiteralExpr | BinaryExpr;

export type LogqlExpr = LogSelectorExpr | MetricExpr;

export function isLogExpr(expr: LogqlExpr): expr is LogSelectorExpr {
  return expr.kind === "log";
}
