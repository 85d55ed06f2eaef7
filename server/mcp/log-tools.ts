/** MCP tools over the tenant's logs: search, counts per level and source, the entries around one entry. */
import { Type } from "typebox";
import { LOG_LEVELS } from "../logs/log-entry.ts";
import { logContext, STREAM_ID } from "./log-context.ts";
import {
  compactEntry,
  defineTool,
  Time,
  toolTime,
  ToolInputError,
  type McpDeps,
  type McpTool,
} from "./tool-kit.ts";

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

export function logTools({ ctx, now = Date.now }: McpDeps): McpTool[] {
  return [
    defineTool({
      name: "search_logs",
      scope: "read",
      description: "Search logs, newest first. Returns compact entries and a nextCursor for older ones",
      input: SearchInput,
      async run(a) {
        const t = now();
        const page = await ctx.queryLogs({
          ...(a.q ? { q: a.q } : {}),
          ...(a.level ? { level: a.level } : {}),
          ...(a.source ? { source: a.source } : {}),
          ...(a.fields ? { fields: a.fields } : {}),
          from: toolTime(a.from, t, "from"),
          to: toolTime(a.to, t, "to"),
          limit: a.limit ?? 50,
          ...(a.cursor ? { cursor: a.cursor } : {}),
        });
        return {
          count: page.entries.length,
          entries: page.entries.map(compactEntry),
          ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
        };
      },
    }),
    defineTool({
      name: "get_log_stats",
      scope: "read",
      description: "Log counts per level and per source over time buckets (default: the last hour)",
      input: StatsInput,
      async run(a) {
        const t = now();
        const to = toolTime(a.to, t, "to") ?? t;
        const from = toolTime(a.from, t, "from") ?? to - 3_600_000;
        if (to <= from) throw new ToolInputError("to: must be after from");
        const stats = await ctx.queryStats({
          from,
          to,
          ...(a.stepSeconds ? { stepSeconds: a.stepSeconds } : {}),
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
          ...(sources.length > 20 || stats.omittedSources > 0
            ? { moreSources: sources.length - Math.min(20, sources.length) + stats.omittedSources }
            : {}),
          timestamps: stats.timestamps.map((x) => new Date(x).toISOString()),
          perBucket: Object.fromEntries(Object.entries(stats.levels).filter(([, s]) => sum(s) > 0)),
        };
      },
    }),
    defineTool({
      name: "get_log_context",
      scope: "read",
      description: "The entries logged just before and after one entry (by id), oldest first",
      input: ContextInput,
      async run(a) {
        const around = await logContext(ctx.redis, ctx.keys.logs, a.id, a.before ?? 10, a.after ?? 10);
        if (!around.entry) throw new ToolInputError(`no log entry with id ${a.id} (it may have expired)`);
        return {
          before: around.before.map(compactEntry),
          entry: compactEntry(around.entry),
          after: around.after.map(compactEntry),
        };
      },
    }),
  ];
}
