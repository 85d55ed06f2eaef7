/**
 * The MCP tools and resources: what an AI model can do with a tenant's logs, rules and alerts. Input schemas are
 * TypeBox (the rule schema is the very one the API enforces), results are compact JSON text: long messages and
 * field values are cut with a marker, lists are paged with a cursor.
 */
import { fromJsonSchema, McpServer, type CallToolResult } from "@modelcontextprotocol/server";
import { Type, type TSchema } from "typebox";
import type { Alert } from "../alerting/engine/alert-store.ts";
import type { ExtensionContext } from "../extension.ts";
import { LOG_LEVELS, type LogLevel, type StoredLogEntry } from "../logs/log-entry.ts";
import { InvalidCursorError } from "../query/query-logs.ts";
import type { Alerting } from "../alerting/alerting.ts";
import {
  durationMs,
  RuleSchema,
  RuleValidationFailed,
  type Rule,
} from "../../contracts/rules/rule-schema.ts";
import { MAX_TEST_LOGS } from "../alerting/engine/rule-tester.ts";
import { redactRule } from "../../contracts/rules/rule-validation.ts";
import { RuleConflict, RuleReadOnly } from "../alerting/engine/rule-store.ts";
import { logContext, STREAM_ID } from "./log-context.ts";

export const SERVER_VERSION = "1.0.0";
/** 2026-07-28 first (served through `server/discover`), then the 2025 revisions the legacy handshake may pick. */
export const PROTOCOL_VERSIONS = ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"];

const MESSAGE_CHARS = 1_000;
const FIELD_CHARS = 200;
const MAX_FIELDS = 30;

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…[truncated ${text.length - max} chars]`;
}

function compactEntry(e: StoredLogEntry) {
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

function compactAlert(a: Alert) {
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

function compactRule(r: Rule) {
  const { createdAt, updatedAt, ...rest } = redactRule(r);
  return { ...rest, updatedAt: new Date(updatedAt || createdAt).toISOString() };
}

const Time = Type.Union([Type.String(), Type.Number()], {
  description: 'ISO 8601 time, epoch milliseconds, or how long ago as a duration: "15m", "2h", "7d"',
});

/** ISO 8601, epoch ms, or a duration meaning "that long before now". */
export function toolTime(value: unknown, now: number, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    if (/^[0-9]+(ms|s|m|h|d)$/.test(value)) return now - durationMs(value);
    const n = /^[0-9]+$/.test(value) ? Number(value) : Date.parse(value);
    if (Number.isFinite(n)) return n;
  }
  throw new ToolInputError(
    `${name}: expected an ISO 8601 time, epoch ms or a duration like 15m, got ${JSON.stringify(value)}`,
  );
}

class ToolInputError extends Error {}

const SearchInput = Type.Object(
  {
    q: Type.Optional(
      Type.String({
        description: 'Words that must all occur in the message; "quoted phrase" for words in a row',
      }),
    ),
    level: Type.Optional(Type.Enum(LOG_LEVELS, { description: "This level or more severe" })),
    source: Type.Optional(Type.String({ description: "Exact source/service name" })),
    fields: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description: 'Exact attribute values, e.g. {"http.status": "500"}',
      }),
    ),
    from: Type.Optional(Time),
    to: Type.Optional(Time),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, description: "Default 50" })),
    cursor: Type.Optional(Type.String({ description: "nextCursor of the previous call, for older entries" })),
  },
  { additionalProperties: false },
);
const StatsInput = Type.Object(
  {
    from: Type.Optional(Time),
    to: Type.Optional(Time),
    stepSeconds: Type.Optional(Type.Integer({ minimum: 60, description: "Bucket width, a multiple of 60" })),
  },
  { additionalProperties: false },
);
const ContextInput = Type.Object(
  {
    id: Type.String({
      pattern: STREAM_ID.source,
      description: "A log id from search_logs (e.g. 1760000000000-0)",
    }),
    before: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: "Default 10" })),
    after: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: "Default 10" })),
  },
  { additionalProperties: false },
);
const CreateRuleInput = Type.Object({ rule: RuleSchema }, { additionalProperties: false });
const TestRuleInput = Type.Object(
  {
    rule: RuleSchema,
    from: Time,
    to: Type.Optional(Time),
    maxLogs: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TEST_LOGS })),
  },
  { additionalProperties: false },
);
const ListAlertsInput = Type.Object(
  {
    status: Type.Optional(Type.Enum(["firing", "resolved"])),
    ruleId: Type.Optional(Type.String()),
    severity: Type.Optional(Type.Enum(["info", "warning", "critical"])),
    acknowledged: Type.Optional(Type.Boolean()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: "Default 20" })),
    cursor: Type.Optional(Type.String({ description: "nextCursor of the previous call" })),
  },
  { additionalProperties: false },
);
const AckInput = Type.Object(
  { id: Type.String({ pattern: "^[0-9]{1,20}$", description: "Alert id" }) },
  { additionalProperties: false },
);
const NoInput = Type.Object({}, { additionalProperties: false });

function schema(s: TSchema) {
  return fromJsonSchema<Record<string, unknown>>(s as Parameters<typeof fromJsonSchema>[0]);
}

function ok(value: unknown): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify(value) }] };
}

function failure(message: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text: message }] };
}

export type ToolScope = "read" | "admin";

export interface McpDeps {
  readonly ctx: ExtensionContext;
  readonly alerting: () => Alerting;
  readonly now?: () => number;
}

/** One server instance per request (stateless serving), bound to the caller's scopes. */
export function buildMcpServer(deps: McpDeps, scopes: ReadonlySet<string>): McpServer {
  const { ctx } = deps;
  const now = deps.now ?? Date.now;
  const server = new McpServer(
    { name: "neurallog", version: SERVER_VERSION },
    {
      supportedProtocolVersions: PROTOCOL_VERSIONS,
      instructions:
        `Logs, alert rules and alerts of the NeuralLog tenant "${ctx.config.tenant}". Start with get_log_stats or ` +
        "search_logs; get_log_context shows what surrounded an entry; test_rule before create_rule.",
    },
  );
  const allowed = (scope: ToolScope) => scopes.has("admin") || scopes.has(scope);

  const tool = (
    name: string,
    scope: ToolScope,
    description: string,
    input: TSchema,
    run: (args: Record<string, unknown>) => Promise<unknown>,
    readOnly = true,
  ) => {
    server.registerTool(
      name,
      {
        description: `${description} (needs the "${scope}" scope)`,
        inputSchema: schema(input),
        annotations: { readOnlyHint: readOnly, openWorldHint: false },
      },
      async (args: Record<string, unknown>) => {
        if (!allowed(scope)) return failure(`${name} needs an API key with the "${scope}" scope`);
        try {
          return ok(await run(args ?? {}));
        } catch (error) {
          if (
            error instanceof ToolInputError ||
            error instanceof RuleValidationFailed ||
            error instanceof RuleConflict ||
            error instanceof RuleReadOnly ||
            error instanceof InvalidCursorError
          ) {
            return failure(error.message);
          }
          ctx.logger.error({ err: error, tool: name }, "MCP tool failed");
          return failure(`${name} failed; try again later`);
        }
      },
    );
  };

  tool(
    "search_logs",
    "read",
    "Search logs, newest first. Returns compact entries and a nextCursor for older ones",
    SearchInput,
    async (a) => {
      const t = now();
      const page = await ctx.queryLogs({
        ...(a.q ? { q: a.q as string } : {}),
        ...(a.level ? { level: a.level as LogLevel } : {}),
        ...(a.source ? { source: a.source as string } : {}),
        ...(a.fields ? { fields: a.fields as Record<string, string> } : {}),
        from: toolTime(a.from, t, "from"),
        to: toolTime(a.to, t, "to"),
        limit: (a.limit as number | undefined) ?? 50,
        ...(a.cursor ? { cursor: a.cursor as string } : {}),
      });
      return {
        count: page.entries.length,
        entries: page.entries.map(compactEntry),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      };
    },
  );

  tool(
    "get_log_stats",
    "read",
    "Log counts per level and per source over time buckets (default: the last hour)",
    StatsInput,
    async (a) => {
      const t = now();
      const to = toolTime(a.to, t, "to") ?? t;
      const from = toolTime(a.from, t, "from") ?? to - 3_600_000;
      if (to <= from) throw new ToolInputError("to: must be after from");
      const stats = await ctx.queryStats({
        from,
        to,
        ...(a.stepSeconds ? { stepSeconds: a.stepSeconds as number } : {}),
      });
      const sum = (series: number[]) => series.reduce((x, y) => x + y, 0);
      const sources = Object.entries(stats.sources)
        .map(([name, series]) => [name, sum(series)] as const)
        .sort((x, y) => y[1] - x[1]);
      return {
        from: new Date(stats.from).toISOString(),
        to: new Date(stats.to).toISOString(),
        stepSeconds: stats.stepSeconds,
        total: stats.total,
        byLevel: Object.fromEntries(Object.entries(stats.levels).map(([l, s]) => [l, sum(s)])),
        topSources: Object.fromEntries(sources.slice(0, 20)),
        ...(sources.length > 20 ? { moreSources: sources.length - 20 } : {}),
        timestamps: stats.timestamps.map((x) => new Date(x).toISOString()),
        perBucket: Object.fromEntries(Object.entries(stats.levels).filter(([, s]) => sum(s) > 0)),
      };
    },
  );

  tool(
    "get_log_context",
    "read",
    "The entries logged just before and after one entry (by id), oldest first",
    ContextInput,
    async (a) => {
      const around = await logContext(
        ctx.redis,
        ctx.keys.logs,
        a.id as string,
        (a.before as number) ?? 10,
        (a.after as number) ?? 10,
      );
      if (!around.entry)
        throw new ToolInputError(`no log entry with id ${String(a.id)} (it may have expired)`);
      return {
        before: around.before.map(compactEntry),
        entry: compactEntry(around.entry),
        after: around.after.map(compactEntry),
      };
    },
  );

  tool(
    "list_rules",
    "read",
    "The alert rules: from git (read-only) and created through the API",
    NoInput,
    async () => ({
      rules: deps.alerting().rules().map(compactRule),
    }),
  );

  tool(
    "create_rule",
    "admin",
    "Create an alert rule. Types: any, frequency, flatline, spike, new_value, cardinality, change, aggregate",
    CreateRuleInput,
    async (a) => compactRule(await deps.alerting().store.create(a.rule)),
    false,
  );

  tool(
    "test_rule",
    "read",
    "Replay stored logs of a time range through a rule (not saved) and list the alerts it would have fired",
    TestRuleInput,
    async (a) => {
      const t = now();
      const from = toolTime(a.from, t, "from")!;
      const to = toolTime(a.to, t, "to") ?? t;
      if (to <= from) throw new ToolInputError("to: must be after from");
      const result = await deps
        .alerting()
        .testRule({ rule: a.rule, from, to, maxLogs: a.maxLogs as number | undefined });
      return {
        logsEvaluated: result.logsEvaluated,
        truncated: result.truncated,
        wouldFire: result.alerts.length,
        alerts: result.alerts.slice(0, 50).map(compactAlert),
        ...(result.alerts.length > 50 ? { more: `${result.alerts.length - 50} more alerts truncated` } : {}),
      };
    },
  );

  tool("list_alerts", "read", "Alerts, newest first, optionally filtered", ListAlertsInput, async (a) => {
    const page = await deps.alerting().alerts.list({ ...a, limit: (a.limit as number | undefined) ?? 20 });
    return {
      alerts: page.alerts.map(compactAlert),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  });

  tool(
    "ack_alert",
    "admin",
    "Acknowledge an alert: no more re-notifications while it fires",
    AckInput,
    async (a) => {
      const alert = await deps.alerting().alerts.acknowledge(a.id as string, "mcp");
      if (!alert) throw new ToolInputError(`no alert with id ${String(a.id)}`);
      return compactAlert(alert);
    },
    false,
  );

  if (allowed("read")) {
    server.registerResource(
      "rules",
      "neurallog://rules",
      { title: "Alert rules", description: "The tenant's rule set", mimeType: "application/json" },
      async (uri) => ({
        contents: [
          {
            uri: uri.href,
            mimeType: "application/json",
            text: JSON.stringify(deps.alerting().rules().map(compactRule)),
          },
        ],
      }),
    );
    server.registerResource(
      "recent-alerts",
      "neurallog://alerts/recent",
      { title: "Recent alerts", description: "The 50 newest alerts", mimeType: "application/json" },
      async (uri) => {
        const page = await deps.alerting().alerts.list({ limit: 50 });
        return {
          contents: [
            {
              uri: uri.href,
              mimeType: "application/json",
              text: JSON.stringify(page.alerts.map(compactAlert)),
            },
          ],
        };
      },
    );
  }
  return server;
}
