/** Durations of the tenant file (`30s`, `15m`, `12h`, `7d`, `2w`) as seconds. */

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const;

export function parseDuration(text: string): number | undefined {
  const match = /^([0-9]+)(s|m|h|d|w)$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
}
