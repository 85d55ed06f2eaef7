/**
 * The one duration syntax of NeuralLog: tenant files (log retention, backup retention), rules (windows, timeouts,
 * realert), the server's environment (`NEURALLOG_RETENTION_MAX_AGE`) and `neurallog backup --max-age`. One parser,
 * so `2w` or `250ms` means the same wherever it is written; each use sets its own bounds.
 */

export const DURATION_PATTERN = "^([0-9]+)(ms|s|m|h|d|w)$";
export const DURATION_SYNTAX = "a number followed by ms, s, m, h, d or w, e.g. 30s, 7d";

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION = new RegExp(DURATION_PATTERN);

/** The duration in milliseconds, or `undefined` when TEXT is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
