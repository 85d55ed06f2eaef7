/**
 * Elasticsearch-compatible ingestion: `POST /_bulk` and `POST /<index>/_bulk` (index and create actions), as
 * Filebeat, Fluent Bit's es output, Logstash and the Elasticsearch clients send them, plus `GET /` so shippers
 * that check the cluster first find one. Every response carries `X-Elastic-Product: Elasticsearch`, without which
 * the official clients refuse it. Partial success as Elasticsearch does it: 200 with `errors: true` and a status
 * per item; `update` and `delete` items are refused (logs are append-only).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ServerContext } from "../context.ts";
import { BadRequest } from "../errors.ts";
import type { LogEntry } from "../logs/log-entry.ts";
import { checkBatchSize, storeBatch } from "./batch.ts";
import { EntryError, EntryNormalizer } from "./normalize.ts";
import { chargeJson } from "./body-shape.ts";
import { ingestMemoryOf } from "./ingest-preamble.ts";
import { decodedBody } from "./request-body.ts";

/** The version reported to clients: the bulk API of 7.x and later, which is all we speak. */
const COMPATIBLE_VERSION = "8.17.0";

type Item =
  | { action: "index" | "create"; index: string; id?: string; entry: LogEntry }
  | { action: string; index: string; id?: string; error: { type: string; reason: string } };

interface BulkAction {
  _index?: unknown;
  _id?: unknown;
}

export function decodeBulk(
  text: string,
  defaultIndex: string | undefined,
  normalizer: EntryNormalizer,
): Item[] {
  const limits = normalizer.limits;
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const items: Item[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    let action: Record<string, BulkAction>;
    try {
      action = JSON.parse(line) as Record<string, BulkAction>;
    } catch (error) {
      throw new BadRequest(`line ${i + 1}: the action is not valid JSON: ${(error as Error).message}`);
    }
    const name = action && typeof action === "object" ? Object.keys(action)[0] : undefined;
    const meta = name ? action[name] : undefined;
    if (
      !name ||
      !meta ||
      typeof meta !== "object" ||
      !["index", "create", "update", "delete"].includes(name)
    ) {
      throw new BadRequest(`line ${i + 1}: expected an action line like {"index": {}} or {"create": {}}`);
    }
    // Every action counts, refused ones too: each becomes an item of the response.
    checkBatchSize(items.length + 1, limits.maxBatchEntries);
    const index = typeof meta._index === "string" ? meta._index : defaultIndex;
    const id = typeof meta._id === "string" ? meta._id : undefined;
    if (!index) throw new BadRequest(`line ${i + 1}: the action names no _index and the URL none either`);
    if (name === "delete") {
      items.push({ action: name, index, ...(id ? { id } : {}), error: refused("delete") });
      continue;
    }
    const source = lines[++i];
    if (source === undefined)
      throw new BadRequest(`line ${i}: the ${name} action has no document line after it`);
    if (name === "update") {
      items.push({ action: name, index, ...(id ? { id } : {}), error: refused("update") });
      continue;
    }
    const fail = (reason: string): void => {
      items.push({
        action: name,
        index,
        ...(id ? { id } : {}),
        error: { type: "document_parsing_exception", reason },
      });
    };
    if (Buffer.byteLength(source) > limits.maxLineBytes) {
      fail(`line ${i + 1}: the document is larger than ${limits.maxLineBytes} bytes`);
      continue;
    }
    let document: unknown;
    try {
      document = JSON.parse(source);
    } catch (error) {
      fail(`line ${i + 1}: the document is not valid JSON: ${(error as Error).message}`);
      continue;
    }
    try {
      const entry = normalizer.normalize(document);
      items.push({
        action: name as "index" | "create",
        index,
        ...(id ? { id } : {}),
        entry: { ...entry, fields: { ...entry.fields, "es.index": index } },
      });
    } catch (error) {
      if (!(error instanceof EntryError)) throw error;
      fail(`line ${i + 1}: ${error.message}`);
    }
  }
  return items;
}

function refused(action: string): { type: string; reason: string } {
  return {
    type: "action_request_validation_exception",
    reason: `${action} is not supported: logs are append-only`,
  };
}

/** Stores the accepted documents of one bulk request; `index` is the URL's, for actions that name none. */
async function storeBulk(
  ctx: ServerContext,
  index: string | undefined,
  request: FastifyRequest,
): Promise<BulkResponse> {
  const limits = ctx.config.limits;
  const held = ingestMemoryOf(request);
  const started = Date.now();
  const body = await decodedBody(request, limits, held);
  chargeJson(body, held, limits.maxBatchEntries);
  const items = decodeBulk(body.toString("utf8"), index, new EntryNormalizer(limits));
  const good = items.filter((item): item is Extract<Item, { entry: LogEntry }> => "entry" in item);
  const rejections = items.flatMap((item, i) =>
    "error" in item ? [{ entry: i + 1, reason: item.error.reason }] : [],
  );
  const stored = await storeBatch(ctx, "elasticsearch", {
    entries: good.map((g) => g.entry),
    rejections,
  });
  return bulkResponse(
    items,
    stored.map((s) => s.id),
    Date.now() - started,
  );
}

interface BulkResponse {
  readonly took: number;
  readonly errors: boolean;
  readonly items: Record<string, unknown>[];
}

/**
 * The answer Elasticsearch gives: one result per action in request order, the stored ones `created` with the id
 * the store gave (`storedIds` in the order of the accepted items) unless the action named its own.
 */
function bulkResponse(items: readonly Item[], storedIds: readonly string[], took: number): BulkResponse {
  let next = 0;
  return {
    took,
    errors: items.some((item) => "error" in item),
    items: items.map((item, i) => {
      if ("error" in item) {
        return {
          [item.action]: { _index: item.index, _id: item.id ?? null, status: 400, error: item.error },
        };
      }
      const id = storedIds[next++]!;
      return {
        [item.action]: {
          _index: item.index,
          _id: item.id ?? id,
          _version: 1,
          result: "created",
          _shards: { total: 1, successful: 1, failed: 0 },
          _seq_no: i,
          _primary_term: 1,
          status: 201,
        },
      };
    }),
  };
}

/** `GET /`: what shippers that check the cluster before sending expect to find. */
function clusterInfo(tenant: string) {
  return {
    name: "neurallog",
    cluster_name: `neurallog-${tenant}`,
    version: {
      number: COMPATIBLE_VERSION,
      build_flavor: "default",
      lucene_version: "9.12.0",
      minimum_wire_compatibility_version: "7.17.0",
    },
    tagline: "You Know, for Search",
  };
}

export async function elasticRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.addHook("onSend", async (_request, reply) => {
    reply.header("x-elastic-product", "Elasticsearch");
  });

  const routeOptions = {
    config: { ingestEndpoint: "elasticsearch" as const },
    schema: { summary: "Elasticsearch bulk API (index and create actions)", tags: ["ingest"] },
  };
  // Clients send PUT too; only POST is in the API document.
  const hidden = { ...routeOptions, schema: { hide: true } };
  app.post("/_bulk", routeOptions, async (request) => storeBulk(ctx, undefined, request));
  app.put("/_bulk", hidden, async (request) => storeBulk(ctx, undefined, request));
  app.post<{ Params: { index: string } }>("/:index/_bulk", routeOptions, async (request) =>
    storeBulk(ctx, request.params.index, request),
  );
  app.put<{ Params: { index: string } }>("/:index/_bulk", hidden, async (request) =>
    storeBulk(ctx, request.params.index, request),
  );

  app.get("/", { onRequest: ctx.auth.requireScope("ingest"), schema: { hide: true } }, async () =>
    clusterInfo(ctx.config.tenant),
  );
}
