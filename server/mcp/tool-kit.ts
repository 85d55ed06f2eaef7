/**
 * What every MCP tool table shares: the typed tool definition (its handler gets the `Static` type of its own input
 * schema, so no tool casts its arguments), the scope check and error mapping every call goes through, tool times,
 * and the compact JSON shapes results are written in (long messages and field values cut with a marker).
 */
import { fromJsonSchema, type CallToolResult, type McpServer } from "@modelcontextprotocol/server";
import { Type, type Static, type TSchema } from "typebox";
import { parseDurationMs } from "../../contracts/duration.ts";
import { RuleValidationFailed, type Rule } from "../../contracts/rules/rule-schema.ts";
import { redactRule } from "../../contracts/rules/rule-validation.ts";
import type { Alert } from "../alerting/engine/alert-store.ts";
import { RuleConflict, RuleReadOnly } from "../alerting/engine/rule-store.ts";
import type { ExtensionContext } from "../extension.ts";
import type { Alerting } from "../alerting/alerting.ts";
import type { StoredLogEntry } from "../logs/log-entry.ts";
import { InvalidStatsQueryError } from "../query/log-stats.ts";
import { InvalidCursorError } from "../query/query-logs.ts";

export type ToolScope = "read" | "admin";

export interface McpDeps {
  readonly ctx: ExtensionContext;
  readonly alerting: () => Alerting;
  readonly now?: () => number;
}

/** Bad arguments the schema cannot express (a time range backwards, an id that does not exist): said to the model. */
export class ToolInputError extends Error {}

export interface ToolDefinition<S extends TSchema> {
  readonly name: string;
  readonly scope: ToolScope;
  readonly description: string;
  readonly input: S;
  /** Default true: the tool changes nothing. */
  readonly readOnly?: boolean;
  run(args: Static<S>): Promise<unknown>;
}

/** A tool of any input, as a table holds it: the input type stays inside `register`. */
export interface McpTool {
  readonly name: string;
  register(server: McpServer, guard: ToolGuard): void;
}

/** Runs a call if the caller's scopes allow it, and turns its result or error into the tool result. */
export type ToolGuard = (
  name: string,
  scope: ToolScope,
  call: () => Promise<unknown>,
) => Promise<CallToolResult>;

export function defineTool<S extends TSchema>(tool: ToolDefinition<S>): McpTool {
  return {
    name: tool.name,
    register(server, guard) {
      server.registerTool(
        tool.name,
        {
          description: `${tool.description} (needs the "${tool.scope}" scope)`,
          // TypeBox emits JSON Schema; the SDK validates the arguments against it before the handler runs.
          inputSchema: fromJsonSchema<Static<S>>(tool.input),
          annotations: { readOnlyHint: tool.readOnly ?? true, openWorldHint: false },
        },
        (args) => guard(tool.name, tool.scope, () => tool.run(args)),
      );
    },
  };
}

export function toolGuard(ctx: ExtensionContext, scopes: ReadonlySet<string>): ToolGuard {
  return async (name, scope, call) => {
    if (!allowed(scopes, scope)) return failure(`${name} needs an API key with the "${scope}" scope`);
    try {
      return { content: [{ type: "text", text: JSON.stringify(await call()) }] };
    } catch (error) {
      if (
        error instanceof ToolInputError ||
        error instanceof RuleValidationFailed ||
        error instanceof RuleConflict ||
        error instanceof RuleReadOnly ||
        error instanceof InvalidCursorError ||
        error instanceof InvalidStatsQueryError
      ) {
        return failure(error.message);
      }
      ctx.logger.error({ err: error, tool: name }, "MCP tool failed");
      return failure(`${name} failed; try again later`);
    }
  };
}

export function allowed(scopes: ReadonlySet<string>, scope: ToolScope): boolean {
  return scopes.has("admin") || scopes.has(scope);
}

function failure(message: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text: message }] };
}

const MESSAGE_CHARS = 1_000;
const FIELD_CHARS = 200;
const MAX_FIELDS = 30;

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…[truncated ${text.length - max} chars]`;
}

export function compactEntry(e: StoredLogEntry) {
  const names = Object.keys(e.fields);
  const fields: Record<string, unknown> = {};
  for (const name of names.slice(0, MAX_FIELDS)) {
    const v = e.fields[name];
    fields[name] = typeof v === "string" ? truncate(v, FIELD_CHARS) : v;
  }
  if (names.length > MAX_FIELDS) fields["…"] = `[${names.length - MAX_FIELDS} more fields truncated]`;
  return {
    id: e.id,
    time: new Date(e.timestamp).toISOString(),
    level: e.level,
    source: e.source,
    message: truncate(e.message, MESSAGE_CHARS),
    ...(e.traceId ? { traceId: e.traceId } : {}),
    ...(names.length ? { fields } : {}),
  };
}

export function compactAlert(a: Alert) {
  return {
    id: a.id,
    status: a.status,
    rule: `${a.ruleName} (${a.ruleId})`,
    severity: a.severity,
    group: a.group,
    reason: truncate(a.reason, 300),
    firedAt: new Date(a.firedAt).toISOString(),
    ...(a.resolvedAt ? { resolvedAt: new Date(a.resolvedAt).toISOString() } : {}),
    ...(a.acknowledged ? { acknowledgedBy: a.ackedBy } : {}),
    count: a.count,
  };
}

export function compactRule(r: Rule) {
  const { createdAt, updatedAt, ...rest } = redactRule(r);
  return { ...rest, updatedAt: new Date(updatedAt || createdAt).toISOString() };
}

export const Time = Type.Union([Type.String(), Type.Number()], {
  description: 'ISO 8601 time, epoch milliseconds, or how long ago as a duration: "15m", "2h", "7d"',
});

/** ISO 8601, epoch ms, or a duration meaning "that long before now". */
export function toolTime(value: unknown, now: number, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    const ago = parseDurationMs(value);
    if (ago !== undefined) return now - ago;
    const n = /^[0-9]+$/.test(value) ? Number(value) : Date.parse(value);
    if (Number.isFinite(n)) return n;
  }
  throw new ToolInputError(
    `${name}: expected an ISO 8601 time, epoch ms or a duration like 15m, got ${JSON.stringify(value)}`,
  );
}
