/**
 * The realistic log lines the benches send (`bench:ingest`, `bench:log-footprint`): several levels, services and
 * fields, nested objects, messages with ids and numbers, a trace id. One generator, so the ingest rate and the
 * measured bytes per log are about the same logs.
 */
const LEVELS = ["debug", "info", "info", "info", "warn", "error"];
const SERVICES = ["api", "auth", "billing", "search", "worker"];
const PATHS = ["/api/v1/users", "/api/v1/orders", "/login", "/health", "/api/v1/search"];

/** `count` NDJSON records (as JSON text), numbered from `seed * count`, timestamped from `now` on. */
export function realisticLines(seed: number, count: number, now = Date.now()): string[] {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = seed * count + i;
    lines.push(
      JSON.stringify({
        time: new Date(now + i).toISOString(),
        level: LEVELS[n % LEVELS.length],
        msg: `request ${PATHS[n % PATHS.length]} handled in ${n % 997} ms for user u${n % 1000} (req-${n.toString(36)})`,
        service: SERVICES[n % SERVICES.length],
        http: { method: n % 3 ? "GET" : "POST", status: n % 50 ? 200 : 500, path: PATHS[n % PATHS.length] },
        user: { id: `u${n % 1000}` },
        trace_id: (n * 2654435761).toString(16).padStart(32, "0"),
      }),
    );
  }
  return lines;
}
