/**
 * JSON with object keys sorted at every level, pretty-printed: the same value always gives the same bytes, and
 * reordering keys in a tenant file does not show up as a change in the rendered manifests.
 */
/** A copy of `value` with object keys sorted at every level (and undefined members left out). */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const child = (value as Record<string, unknown>)[key];
    if (child !== undefined) sorted[key] = sortKeys(child);
  }
  return sorted;
}

export function canonicalJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}
