/**
 * A parsed log selector compiled into one function over a stored log: the stream selector's matchers, then the
 * pipeline's stages in order (line filters, `json`/`logfmt`, label filters, `line_format`, `drop`/`keep`), as
 * Loki applies them. Returns the log's final line and labels, or undefined when a stage drops it.
 */
import { compileUserRegex, type UserRegex } from "../../contracts/rules/user-regex.ts";
import type { StoredLogEntry } from "../logs/log-entry.ts";
import type {
  LabelMatcher,
  LabelPredicate,
  LineFilterStage,
  LogSelectorExpr,
  NumberUnit,
  ParserStage,
  PipelineStage,
} from "./logql-ast.ts";
import { LogqlError } from "./logql-lexer.ts";
import { parseBytes, parseDurationMs } from "./logql-units.ts";
import { compileLineTemplate } from "./line-template.ts";
import { ERROR_DETAILS_LABEL, ERROR_LABEL, LogLabels, labelName, labelValue } from "./log-labels.ts";

export interface PipelineResult {
  readonly line: string;
  readonly labels: LogLabels;
}

export type CompiledPipeline = (entry: StoredLogEntry) => PipelineResult | undefined;

type Step = (state: { line: string; labels: LogLabels }) => boolean;

function regex(pattern: string, anchored: boolean): UserRegex {
  // The parser compiled the same pattern already; this cannot fail after it.
  const compiled = compileUserRegex(anchored ? `^(?:${pattern})$` : pattern, false);
  if (!compiled.ok) throw new LogqlError(compiled.problem);
  return compiled.regex;
}

export function compileMatcher(m: LabelMatcher): (value: string) => boolean {
  switch (m.op) {
    case "=":
      return (v) => v === m.value;
    case "!=":
      return (v) => v !== m.value;
    case "=~": {
      const re = regex(m.value, true);
      return (v) => re.test(v);
    }
    case "!~": {
      const re = regex(m.value, true);
      return (v) => !re.test(v);
    }
  }
}

function lineFilter(stage: LineFilterStage): Step {
  const tests = stage.values.map((value) => {
    if (stage.op === "|=" || stage.op === "!=") return (line: string) => line.includes(value);
    const re = regex(value, false);
    return (line: string) => re.test(line);
  });
  const positive = stage.op === "|=" || stage.op === "|~";
  // `|= "a" or "b"` keeps a line with either; `!= "a" or "b"` drops a line with either.
  return (s) => tests.some((t) => t(s.line)) === positive;
}

/** A JSON value as Loki's json parser writes it into a label (objects are walked, arrays skipped). */
function flattenJson(value: unknown, prefix: string, out: Map<string, string>): void {
  if (value === null || typeof value !== "object") {
    out.set(labelName(prefix), value === null ? "" : String(value));
    return;
  }
  if (Array.isArray(value)) return;
  for (const [key, inner] of Object.entries(value))
    flattenJson(inner, prefix ? `${prefix}_${key}` : key, out);
}

function jsonPath(root: unknown, path: string): string | undefined {
  let at: unknown = root;
  for (const key of path.split(".")) {
    if (at === null || typeof at !== "object" || Array.isArray(at)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  if (at === undefined || (typeof at === "object" && at !== null)) return undefined;
  return at === null ? "" : String(at);
}

/** logfmt as go-logfmt reads it: `key=value`, `key="quoted \" value"`, a bare `key` has an empty value. */
export function parseLogfmt(line: string): Map<string, string> {
  const out = new Map<string, string>();
  const pair = /\s*([^\s=]+)(?:=("(?:[^"\\]|\\.)*"|[^\s]*))?/y;
  let at = 0;
  while (at < line.length) {
    pair.lastIndex = at;
    const match = pair.exec(line);
    if (!match) break;
    at = pair.lastIndex;
    const raw = match[2] ?? "";
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        value = raw.slice(1, -1);
      }
    }
    out.set(labelName(match[1]!), value);
  }
  return out;
}

/**
 * Adds what a parser found. A name the log already has as a stream label gets `_extracted`, as in Loki; the
 * log's own fields (structured metadata) are the values NeuralLog parsed from the same JSON at ingest, so a
 * parsed key of the same name refreshes them. For a line that is not JSON or logfmt (NeuralLog keeps the message,
 * having parsed JSON lines into fields at ingest) the fields stand in and no `__error__` is set.
 */
function parserStage(stage: ParserStage): Step {
  const parse =
    stage.kind === "json"
      ? (line: string): unknown => {
          if (!line.startsWith("{")) return undefined;
          try {
            const value = JSON.parse(line) as unknown;
            return value && typeof value === "object" && !Array.isArray(value) ? value : undefined;
          } catch {
            return undefined;
          }
        }
      : (line: string): unknown => parseLogfmt(line);
  const add = (labels: LogLabels, name: string, value: string): void => {
    const category = labels.categories.get(name);
    if (category === "stream" && labels.values.get(name) !== value)
      labels.set(`${name}_extracted`, value, "parsed");
    else if (category !== "stream") labels.set(name, value, "parsed");
  };
  return (s) => {
    const parsed = parse(s.line);
    if (stage.extract.length === 0) {
      if (parsed === undefined) return true;
      const found = parsed instanceof Map ? (parsed as Map<string, string>) : new Map<string, string>();
      if (!(parsed instanceof Map)) flattenJson(parsed, "", found);
      for (const [name, value] of found) add(s.labels, name, value);
      return true;
    }
    for (const { label, path } of stage.extract) {
      let value: string | undefined;
      if (parsed instanceof Map) value = (parsed as Map<string, string>).get(labelName(path));
      else if (parsed !== undefined) value = jsonPath(parsed, path);
      if (value === undefined) {
        const field = s.labels.entry.fields[path];
        if (field !== undefined) value = labelValue(field);
      }
      if (value !== undefined) add(s.labels, labelName(label), value);
    }
    return true;
  };
}

function numericValue(text: string, unit: NumberUnit): number | undefined {
  if (unit === "duration") {
    const ms = parseDurationMs(text.trim());
    return ms === undefined ? undefined : ms / 1000;
  }
  if (unit === "bytes") return parseBytes(text);
  if (!/^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(text)) return undefined;
  return Number(text);
}

/**
 * Loki's label filters: a string comparison on a missing label sees "" ; a numeric comparison on a value that is
 * not a number keeps the log and marks it with `__error__="LabelFilterErr"` (so `| __error__=""` drops it).
 */
function predicate(p: LabelPredicate): (labels: LogLabels) => boolean {
  switch (p.kind) {
    case "and": {
      const [l, r] = [predicate(p.left), predicate(p.right)];
      return (labels) => l(labels) && r(labels);
    }
    case "or": {
      const [l, r] = [predicate(p.left), predicate(p.right)];
      return (labels) => l(labels) || r(labels);
    }
    case "string": {
      const test = compileMatcher(p);
      return (labels) => test(labels.get(p.name) ?? "");
    }
    case "number":
      return (labels) => {
        const text = labels.get(p.name) ?? "";
        const value = numericValue(text, p.unit);
        if (value === undefined) {
          labels.set(ERROR_LABEL, "LabelFilterErr", "parsed");
          labels.set(ERROR_DETAILS_LABEL, `cannot convert ${JSON.stringify(text)} to a ${p.unit}`, "parsed");
          return true;
        }
        switch (p.op) {
          case "==":
            return value === p.value;
          case "!=":
            return value !== p.value;
          case ">":
            return value > p.value;
          case ">=":
            return value >= p.value;
          case "<":
            return value < p.value;
          case "<=":
            return value <= p.value;
        }
      };
  }
}

function stageStep(stage: PipelineStage): Step {
  switch (stage.kind) {
    case "line":
      return lineFilter(stage);
    case "json":
    case "logfmt":
      return parserStage(stage);
    case "labelFilter": {
      const test = predicate(stage.predicate);
      return (s) => test(s.labels);
    }
    case "lineFormat": {
      const template = compileLineTemplate(stage.template);
      return (s) => {
        s.line = template.render((name) => s.labels.get(name), s.line);
        return true;
      };
    }
    case "drop":
    case "keep": {
      const listed = stage.labels.map(({ name, matcher }) => ({
        name,
        test: matcher ? compileMatcher(matcher) : () => true,
      }));
      if (stage.kind === "drop") {
        return (s) => {
          for (const { name, test } of listed) {
            const value = s.labels.values.get(name);
            if (value !== undefined && test(value)) s.labels.delete(name);
          }
          return true;
        };
      }
      return (s) => {
        for (const name of [...s.labels.values.keys()]) {
          const keep = listed.some((l) => l.name === name && l.test(s.labels.values.get(name)!));
          if (!keep) s.labels.delete(name);
        }
        return true;
      };
    }
  }
}

/** The selector and pipeline as one function; throws `LogqlError` for a template or regex it cannot run. */
export function compilePipeline(expr: LogSelectorExpr): CompiledPipeline {
  const matchers = expr.matchers.map((m) => ({ name: m.name, test: compileMatcher(m) }));
  // Line filters before the first other stage see the message itself: run first, they reject most logs of a
  // search before their labels are built (filters commute with the selector's matchers).
  const leading = expr.pipeline.findIndex((stage) => stage.kind !== "line");
  const split = leading < 0 ? expr.pipeline.length : leading;
  const lineFirst = expr.pipeline.slice(0, split).map((stage) => lineFilter(stage as LineFilterStage));
  const steps = expr.pipeline.slice(split).map(stageStep);
  return (entry) => {
    if (lineFirst.length) {
      const probe = { line: entry.message, labels: undefined as unknown as LogLabels };
      for (const filter of lineFirst) if (!filter(probe)) return undefined;
    }
    const labels = new LogLabels(entry);
    for (const { name, test } of matchers) if (!test(labels.get(name) ?? "")) return undefined;
    for (const { name } of matchers) labels.adopt(name);
    const state = { line: entry.message, labels };
    for (const step of steps) if (!step(state)) return undefined;
    return state;
  };
}
