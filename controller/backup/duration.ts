/** Durations as people write them in a CronJob: `90s`, `30m`, `36h`, `14d`, `2w`, or combined (`1d12h`). */

const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (!/^(\d+[smhdw])+$/.test(trimmed)) {
    throw new Error(`invalid duration "${text}" (expected e.g. 90s, 30m, 36h, 14d, 2w or 1d12h)`);
  }
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhdw])/g))
    total += Number(amount) * UNIT_MS[unit!]!;
  if (total <= 0) throw new Error(`invalid duration "${text}": must be longer than zero`);
  return total;
}
