/** `query_range` and `query`: LogQL over a range (streams or matrix) and at an instant (vector or scalar). */
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.ts";
import { isLogExpr } from "./logql-ast.ts";
import { evalLogQuery, evalMetric, evaluationSteps } from "./logql-eval.ts";
import { parseLogql } from "./logql-parser.ts";
import type { LogSearch, ScanStats } from "./log-scan.ts";
import { CATEGORIZE_LABELS, matrixResult, queryStats, streamsResult, vectorResult } from "./loki-json.ts";
import { lokiRoute, requiredQuery } from "./loki-http.ts";
import {
  LokiParamError,
  directionParam,
  limitParam,
  lokiTime,
  single,
  stepParam,
  timeRange,
} from "./loki-params.ts";

const HOUR_MS = 3_600_000;

export function lokiQueryRoutes(app: FastifyInstance, ctx: ServerContext, search: LogSearch): void {
  lokiRoute(
    app,
    ctx,
    "/loki/api/v1/query_range",
    "LogQL over a time range: streams (log query) or matrix (metric query)",
    async (params, request) => {
      const startedAt = process.hrtime.bigint();
      const expr = parseLogql(requiredQuery(params));
      const range = timeRange(params, HOUR_MS);
      const limit = limitParam(params);
      const stats: ScanStats = { scanned: 0, bytes: 0 };
      if (single(params, "interval") !== undefined)
        throw new LokiParamError("the interval parameter is not supported by this server");
      if (isLogExpr(expr)) {
        const rows = await evalLogQuery(
          search,
          expr,
          { startMs: range.startMs, endMs: range.endMs, limit, direction: directionParam(params) },
          stats,
        );
        const categorize = String(request.headers["x-loki-response-encoding-flags"] ?? "").includes(
          CATEGORIZE_LABELS,
        );
        return {
          status: "success",
          data: {
            resultType: "streams",
            result: streamsResult(rows, categorize),
            stats: queryStats(stats, rows.length, startedAt),
            ...(categorize ? { encodingFlags: [CATEGORIZE_LABELS] } : {}),
          },
        };
      }
      const step = stepParam(params, range);
      const steps = evaluationSteps(range.startMs, range.endMs, step);
      const value = await evalMetric(search, expr, steps, stats);
      const result = matrixResult(value, steps);
      return {
        status: "success",
        data: { resultType: "matrix", result, stats: queryStats(stats, result.length, startedAt) },
      };
    },
  );

  lokiRoute(
    app,
    ctx,
    "/loki/api/v1/query",
    "LogQL at one instant: vector or scalar (metric queries)",
    async (params) => {
      const startedAt = process.hrtime.bigint();
      const expr = parseLogql(requiredQuery(params));
      limitParam(params);
      const at = lokiTime(params, "time") ?? Date.now();
      if (isLogExpr(expr))
        throw new LokiParamError(
          "log queries are not supported as an instant query type, please change your query to a range query type",
        );
      const stats: ScanStats = { scanned: 0, bytes: 0 };
      const value = await evalMetric(search, expr, [at], stats);
      if (value.kind === "scalar")
        return {
          status: "success",
          data: {
            resultType: "scalar",
            result: [at / 1000, String(value.value)],
            stats: queryStats(stats, 1, startedAt),
          },
        };
      const result = vectorResult(value, at);
      return {
        status: "success",
        data: { resultType: "vector", result, stats: queryStats(stats, result.length, startedAt) },
      };
    },
  );
}
