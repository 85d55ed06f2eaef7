/** Cron schedules and time zones as Kubernetes CronJobs accept them. */
import { CronExpressionParser } from "cron-parser";
import { closest } from "../suggest.ts";

/**
 * Kubernetes takes standard 5-field cron (minute hour day-of-month month day-of-week). cron-parser also takes
 * a seconds field, so the field count is checked first.
 */
export function cronProblem(expression: string): string | undefined {
  // Many tenants share a schedule; parsing is the slow part of checking a large tree.
  if (!cronVerdicts.has(expression)) cronVerdicts.set(expression, cronVerdict(expression));
  return cronVerdicts.get(expression);
}

const cronVerdicts = new Map<string, string | undefined>();
/** A fixed start date and no time zone: only the syntax matters here, and time zone handling costs 10×. */
const PARSE_OPTIONS = { currentDate: new Date(0) };

function cronVerdict(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) {
    return `"${expression}" has ${fields.length} field${fields.length === 1 ? "" : "s"}; a schedule has 5: minute hour day-of-month month day-of-week`;
  }
  try {
    CronExpressionParser.parse(expression, PARSE_OPTIONS);
    return undefined;
  } catch (error) {
    return `"${expression}" is not a valid cron expression (${(error as Error).message})`;
  }
}

let knownZones: string[] | undefined;

/**
 * An IANA zone name the CronJob controller can load (Go's time.LoadLocation: case-sensitive names, no UTC
 * offsets). Intl accepts the same database but is lenient about case and offsets, so both are checked.
 */
export function timeZoneProblem(zone: string): string | undefined {
  knownZones ??= [...Intl.supportedValuesOf("timeZone"), "UTC", "Etc/UTC", "GMT", "Etc/GMT"];
  let canonical: string;
  try {
    canonical = new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    const near = closest(zone, knownZones);
    return `"${zone}" is not an IANA time zone${near ? ` (did you mean "${near}"?)` : ", e.g. Europe/Berlin or Etc/UTC"}`;
  }
  if (/^[+-]/.test(zone)) return `"${zone}" is an offset, not an IANA time zone name such as Etc/GMT-1`;
  const sameCase = knownZones.includes(zone) || canonical === zone;
  if (!sameCase && canonical.toLowerCase() === zone.toLowerCase()) {
    return `"${zone}" must be written with its exact case (did you mean "${canonical}"?)`;
  }
  return undefined;
}
