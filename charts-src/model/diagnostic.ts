/** A finding of `neurallog validate`, pointing into a YAML source file. */
export type Severity = "error" | "warning";

export interface Diagnostic {
  /** The file path as the user gave it (relative to the working directory when they gave a relative one). */
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  readonly message: string;
  readonly severity: Severity;
}

/** `FILE:LINE:COL: message` (warnings say so, errors are the plain form editors and CI annotate). */
export function formatDiagnostic(d: Diagnostic): string {
  const prefix = d.severity === "warning" ? "warning: " : "";
  return `${d.file}:${d.line}:${d.column}: ${prefix}${d.message}`;
}

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return (
    a.line - b.line || a.column - b.column || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0)
  );
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}
