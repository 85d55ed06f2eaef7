/**
 * Durations (`5m`, `1h30m`, `1.5s`, `300ms`: Prometheus' and Go's forms) and byte sizes (`20MB`, `1KiB`:
 * go-humanize's, which Loki uses) as LogQL and Loki's HTTP parameters write them.
 */

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const part = /([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h|d|w|y)/y;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    part.lastIndex = at;
    const match = part.exec(text);
    if (!match) return undefined;
    total += Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
    at = part.lastIndex;
  }
  return at > 0 ? total : undefined;
}

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  k: 1e3,
  mb: 1e6,
  m: 1e6,
  gb: 1e9,
  g: 1e9,
  tb: 1e12,
  t: 1e12,
  pb: 1e15,
  p: 1e15,
  kib: 1024,
  ki: 1024,
  mib: 1024 ** 2,
  mi: 1024 ** 2,
  gib: 1024 ** 3,
  gi: 1024 ** 3,
  tib: 1024 ** 4,
  ti: 1024 ** 4,
  pib: 1024 ** 5,
  pi: 1024 ** 5,
};

/** Bytes, or undefined when the text is not a size. */
export function parseBytes(text: string): number | undefined {
  const match = /^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!match) return undefined;
  const unit = match[2]!.toLowerCase();
  const factor = unit === "" ? 1 : BYTE_UNITS[unit];
  return factor === undefined ? undefined : Number(match[1]) * factor;
}

/** Prometheus' duration text for a number of milliseconds (`1h30m`, `15s`, `500ms`), as Loki prints limits. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = Math.round(ms);
  let out = "";
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
    ["ms", 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
