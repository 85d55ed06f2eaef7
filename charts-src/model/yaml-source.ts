/**
 * A YAML file parsed with its source positions kept, so that every finding (YAML syntax, schema, semantic) can
 * point at `FILE:LINE:COL`. The `yaml` package's AST keeps a range for every node; a LineCounter turns offsets
 * into lines and columns.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import type { Diagnostic, Severity } from "./diagnostic.ts";
import type { FieldPath } from "./field-path.ts";

export interface YamlSource {
  /** The path shown in diagnostics. */
  readonly file: string;
  readonly document: Document.Parsed;
  readonly lineCounter: LineCounter;
  /** The plain JS value (`undefined` when the YAML could not be parsed into one). */
  readonly value: unknown;
}

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Where a lookup landed: `depth` is how many path segments exist in the file (all of them when found). */
export interface Location extends Position {
  readonly depth: number;
}

const YAML_MESSAGES: Record<string, string> = {
  DUPLICATE_KEY: "duplicate key: each key may appear once in a mapping",
  MULTIPLE_DOCS: "a file holds exactly one document: remove the `---` separator and split it into files",
  TAG_RESOLVE_FAILED:
    "custom YAML tags are not supported: tenant files hold plain values (and reference Secrets by name)",
};

/**
 * Warnings the `yaml` package gives that are errors for us: a custom tag such as `!vault path` would silently
 * become the plain string "path", never the substitution its author expected.
 */
const WARNINGS_AS_ERRORS = new Set(["TAG_RESOLVE_FAILED"]);

/** Parses YAML text; syntax errors and warnings come back as diagnostics instead of exceptions. */
export function parseYamlSource(
  file: string,
  text: string,
): { source: YamlSource; diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const diagnostics: Diagnostic[] = [];
  const report = (severity: Severity) => (problem: (typeof document.errors)[number]) => {
    const { line, col } = lineCounter.linePos(problem.pos[0]);
    const message = YAML_MESSAGES[problem.code] ?? problem.message;
    diagnostics.push({ file, line, column: col, message: `YAML: ${firstLine(message)}`, severity });
  };
  document.errors.forEach(report("error"));
  document.warnings.forEach((w) => report(WARNINGS_AS_ERRORS.has(w.code) ? "error" : "warning")(w));
  let value: unknown = undefined;
  if (!diagnostics.some((d) => d.severity === "error")) {
    try {
      value = document.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // Alias bombs and similar: the document parsed but cannot be turned into data.
      diagnostics.push({
        file,
        line: 1,
        column: 1,
        message: `YAML: ${(error as Error).message}`,
        severity: "error",
      });
    }
  }
  return { source: { file, document, lineCounter, value }, diagnostics };
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0]!.trim();
}

function positionOf(source: YamlSource, node: Node | null | undefined): Position {
  const offset = node?.range?.[0] ?? 0;
  const { line, col } = source.lineCounter.linePos(offset);
  return { line, column: col };
}

/**
 * Finds the node at `path`. `at: "key"` points at the map key of the last segment (where an unknown field is
 * written); `"value"` at its value. When the path does not exist entirely, the deepest existing node is used,
 * so a missing field points at the mapping that should hold it.
 */
export function locate(source: YamlSource, path: FieldPath, at: "key" | "value" = "value"): Location {
  let node: unknown = source.document.contents;
  let keyNode: Node | undefined;
  let depth = 0;
  for (const segment of path) {
    let next: unknown = undefined;
    let nextKey: Node | undefined;
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (pair) {
        next = pair.value ?? pair.key;
        nextKey = pair.key as Node;
      }
    } else if (isSeq(node) && typeof segment === "number") {
      next = node.items[segment];
      nextKey = next as Node | undefined;
    }
    if (next === undefined || next === null) break;
    node = next;
    keyNode = nextKey;
    depth += 1;
  }
  const found = depth === path.length;
  // An empty value (`server:` with nothing after it) has no text of its own: point at its key.
  const empty = isScalar(node) && node.value === null && node.range?.[0] === node.range?.[1];
  const target = found && (at === "key" || empty) && keyNode ? keyNode : (node as Node | null);
  return { ...positionOf(source, target), depth };
}

/** True when every segment of `path` is written in the file (as opposed to coming from a default layer). */
export function isWritten(source: YamlSource, path: FieldPath): boolean {
  return locate(source, path).depth === path.length;
}
