/** Label names and values, series, index stats and volume: what Grafana asks before and beside queries. */
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.ts";
import { parseLogSelector } from "./logql-parser.ts";
import {
  indexStats,
  indexVolume,
  labelNames,
  labelValues,
  seriesOf,
  type MetadataSources,
} from "./loki-metadata.ts";
import { lokiRoute, optionalSelector, requiredQuery } from "./loki-http.ts";
import { LokiParamError, limitParam, matchParams, single, timeRange } from "./loki-params.ts";

const HOUR_MS = 3_600_000;

export function lokiMetadataRoutes(app: FastifyInstance, ctx: ServerContext, sources: MetadataSources): void {
  lokiRoute(
    app,
    ctx,
    "/loki/api/v1/labels",
    "Label names (from the newest logs of the range; default the last 6 hours)",
    async (params) => {
      const range = timeRange(params, 6 * HOUR_MS);
      return { status: "success", data: await labelNames(sources, optionalSelector(params), range) };
    },
  );

  lokiRoute(
    app,
    ctx,
    "/loki/api/v1/label/:name/values",
    "Values of one label (default the last 6 hours)",
    async (params, request) => {
      const { name } = request.params as { name: string };
      const range = timeRange(params, 6 * HOUR_MS);
      return { status: "success", data: await labelValues(sources, name, optionalSelector(params), range) };
    },
  );

  lokiRoute(
    app,
    ctx,
    "/loki/api/v1/series",
    "Stream label sets matching match[] selectors",
    async (params) => {
      const range = timeRange(params, 6 * HOUR_MS);
      const matches = matchParams(params);
      if (matches.length === 0) throw new LokiParamError("at least one match[] selector is required");
      const selectors = matches.map(parseLogSelector);
      return { status: "success", data: await seriesOf(sources, selectors, range) };
    },
  );

  lokiRoute(
    app,
    ctx,
    "/loki/api/v1/index/stats",
    "Streams, chunks, entries and bytes a selector covers",
    async (params) => {
      const range = timeRange(params, HOUR_MS);
      return indexStats(sources, parseLogSelector(requiredQuery(params)), range);
    },
  );

  lokiRoute(
    app,
    ctx,
    "/loki/api/v1/index/volume",
    "Line bytes per stream or label, largest first",
    async (params) => {
      const range = timeRange(params, HOUR_MS);
      const selector = parseLogSelector(requiredQuery(params));
      const aggregateBy = single(params, "aggregateBy") ?? "series";
      if (aggregateBy !== "series" && aggregateBy !== "labels")
        throw new LokiParamError(`invalid aggregateBy "${aggregateBy}": must be series or labels`);
      const targetLabels = (single(params, "targetLabels") ?? "")
        .split(",")
        .map((l) => l.trim())
        .filter(Boolean);
      const volumes = await indexVolume(sources, selector, range, {
        targetLabels,
        aggregateBy,
        limit: limitParam(params, 100),
      });
      return {
        status: "success",
        data: {
          resultType: "vector",
          result: volumes.map((v) => ({ metric: v.metric, value: [range.endMs / 1000, String(v.bytes)] })),
        },
      };
    },
  );
}
