/** Coded HTTP errors of the rules and alerts API, and the mapping from the domain errors of the rule store. */
import createError from "@fastify/error";
import { BadRequest } from "../../errors.ts";
import { RuleValidationFailed } from "../../../contracts/rules/rule-schema.ts";
import { RuleConflict, RuleNotFound, RuleReadOnly } from "../engine/rule-store.ts";

export const NotFound = createError("NL_NOT_FOUND", "%s", 404);
export const Conflict = createError("NL_CONFLICT", "%s", 409);

/** Domain errors become their HTTP form; anything else propagates (and becomes a 500 without details). */
export function httpError(error: unknown): unknown {
  if (error instanceof RuleValidationFailed)
    return new BadRequest(`invalid rule: ${error.message}`, { cause: error });
  if (error instanceof RuleNotFound) return new NotFound(error.message);
  if (error instanceof RuleReadOnly || error instanceof RuleConflict) return new Conflict(error.message);
  return error;
}

/** Epoch ms or an ISO 8601 date; undefined when absent, a 400 when unreadable. */
export function timeParam(value: unknown, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    const n = /^[0-9]+$/.test(value) ? Number(value) : Date.parse(value);
    if (Number.isFinite(n)) return n;
  }
  throw new BadRequest(
    `${name}: expected epoch milliseconds or an ISO 8601 time, got ${JSON.stringify(value)}`,
  );
}
