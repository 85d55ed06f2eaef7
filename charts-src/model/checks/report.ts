/** Collects positioned findings for one source file; every message starts with the field it is about. */
import type { Diagnostic, Severity } from "../diagnostic.ts";
import { formatPath, type FieldPath } from "../field-path.ts";
import { locate, type YamlSource } from "../yaml-source.ts";

export interface Report {
  readonly source: YamlSource;
  /** `path` is shown in the message; the position is the first of `[path, ...alsoAt]` written in the file. */
  error(path: FieldPath, message: string, options?: ReportOptions): void;
  warning(path: FieldPath, message: string, options?: ReportOptions): void;
  readonly diagnostics: Diagnostic[];
}

export interface ReportOptions {
  /** Point at the key instead of the value (names, unknown entries). */
  readonly at?: "key" | "value";
  /** Other fields the finding depends on: the position falls back to them when `path` is not in the file. */
  readonly alsoAt?: readonly FieldPath[];
}

export function reportFor(source: YamlSource): Report {
  const diagnostics: Diagnostic[] = [];
  const add =
    (severity: Severity) =>
    (path: FieldPath, message: string, options: ReportOptions = {}) => {
      const candidates = [path, ...(options.alsoAt ?? [])];
      const written = candidates.find((p) => locate(source, p).depth === p.length);
      const { line, column } = locate(source, written ?? path, options.at ?? "value");
      diagnostics.push({
        file: source.file,
        line,
        column,
        message: `${formatPath(path)}: ${message}`,
        severity,
      });
    };
  return { source, error: add("error"), warning: add("warning"), diagnostics };
}
