/**
 * `POST /v1/logs`: OTLP/HTTP logs, protobuf (`application/x-protobuf`) or JSON (`application/json`), optionally
 * gzip, as the OpenTelemetry SDKs and the Collector's otlphttp exporter send them. Resource and log attributes
 * become fields (so `service.name` is the source); severity number (or text) the level; a map body is merged into
 * the fields. Partial success as OTLP defines it: 200 with `partialSuccess.rejectedLogRecords` and a message.
 */
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.ts";
import { BadRequest, UnsupportedMediaType } from "../errors.ts";
import {
  levelFromOtelSeverity,
  parseLevel,
  parseTimestamp,
  EntryError,
  EntryNormalizer,
  type KnownParts,
} from "./normalize.ts";
import { checkBatchSize, storeBatch, type DecodedBatch, type Rejection } from "./batch.ts";
import { chargeJson, chargeProtobuf } from "./body-shape.ts";
import { ingestMemoryOf } from "./ingest-preamble.ts";
import { decodedBody, mediaType } from "./request-body.ts";
import { OtlpExportLogsRequest, OtlpExportLogsResponse, OtlpLogRecord, TO_OBJECT } from "./wire-schemas.ts";

/** OTLP AnyValue in its JSON form (protobuf is converted to the same shape). */
interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number | string;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: string;
}
interface KeyValue {
  key?: string;
  value?: AnyValue;
}
interface LogRecord {
  timeUnixNano?: string | number;
  observedTimeUnixNano?: string | number;
  severityNumber?: number;
  severityText?: string;
  body?: AnyValue;
  attributes?: KeyValue[];
  traceId?: string;
  spanId?: string;
  eventName?: string;
}
interface ExportRequest {
  resourceLogs?: {
    resource?: { attributes?: KeyValue[] };
    scopeLogs?: { scope?: { name?: string; version?: string }; logRecords?: LogRecord[] }[];
  }[];
}

/** Deeper values are refused: the fields would be unusable and recursion must stay bounded. */
const MAX_VALUE_DEPTH = 16;

/** An AnyValue as plain JSON: maps become objects (flattened to dotted fields later), arrays JSON text. */
function plain(value: AnyValue | undefined, depth = 0): unknown {
  if (!value || typeof value !== "object") return null;
  if (depth > MAX_VALUE_DEPTH)
    throw new EntryError(`a value is nested deeper than ${MAX_VALUE_DEPTH} levels`);
  if (value.stringValue !== undefined) return String(value.stringValue);
  if (value.boolValue !== undefined) return Boolean(value.boolValue);
  if (value.intValue !== undefined) {
    const n = Number(value.intValue);
    return Number.isSafeInteger(n) ? n : String(value.intValue);
  }
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.kvlistValue) return attributes(value.kvlistValue.values, depth + 1);
  if (value.arrayValue) {
    const values = value.arrayValue.values;
    return Array.isArray(values) ? values.map((v) => plain(v, depth + 1)) : [];
  }
  if (value.bytesValue !== undefined) return String(value.bytesValue);
  return null;
}

function attributes(list: KeyValue[] | undefined, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list) if (kv && typeof kv.key === "string") out[kv.key] = plain(kv.value, depth);
  return out;
}

const ZERO_ID = /^0*$/;

function time(value: string | number | undefined) {
  if (value === undefined || value === 0 || value === "0") return undefined;
  return parseTimestamp(typeof value === "number" ? value : String(value));
}

export function decodeOtlpRequest(request: ExportRequest, normalizer: EntryNormalizer): DecodedBatch {
  if (
    !request ||
    typeof request !== "object" ||
    (request.resourceLogs !== undefined && !Array.isArray(request.resourceLogs))
  ) {
    throw new BadRequest("the body must be an ExportLogsServiceRequest ({resourceLogs: [...]})");
  }
  const resources = request.resourceLogs ?? [];
  let total = 0;
  for (const r of resources) for (const s of r?.scopeLogs ?? []) total += s?.logRecords?.length ?? 0;
  checkBatchSize(total, normalizer.limits.maxBatchEntries);
  const entries: DecodedBatch["entries"] = [];
  const rejections: Rejection[] = [];
  let position = 0;
  for (const resource of resources) {
    let resourceAttributes: Record<string, unknown>;
    try {
      resourceAttributes = attributes(resource?.resource?.attributes);
    } catch (error) {
      if (error instanceof EntryError) throw new BadRequest(`resource attributes: ${error.message}`);
      throw error;
    }
    for (const scope of resource?.scopeLogs ?? []) {
      const scopeFields: Record<string, unknown> = {};
      if (scope?.scope?.name) scopeFields["otel.scope.name"] = scope.scope.name;
      if (scope?.scope?.version) scopeFields["otel.scope.version"] = scope.scope.version;
      for (const log of scope?.logRecords ?? []) {
        position++;
        try {
          if (!log || typeof log !== "object") throw new EntryError("a log record must be an object");
          const body = plain(log.body);
          const bodyFields =
            body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
          const record = {
            ...resourceAttributes,
            ...scopeFields,
            ...bodyFields,
            ...attributes(log.attributes),
          };
          if (log.eventName) record["event.name"] = log.eventName;
          const known: KnownParts = {};
          const timestamp = time(log.timeUnixNano) ?? time(log.observedTimeUnixNano);
          if (timestamp) known.timestamp = timestamp;
          const level =
            levelFromOtelSeverity(Number(log.severityNumber ?? 0)) ?? parseLevel(log.severityText ?? "");
          if (level) known.level = level;
          if (log.severityText && !level) record["severity_text"] = log.severityText;
          if (typeof body === "string") known.message = body;
          else if (Array.isArray(body) || (body !== null && typeof body !== "object"))
            known.message = JSON.stringify(body);
          if (log.traceId && !ZERO_ID.test(log.traceId)) known.traceId = log.traceId;
          if (log.spanId && !ZERO_ID.test(log.spanId)) known.spanId = log.spanId;
          entries.push(normalizer.normalize(record, known));
        } catch (error) {
          if (!(error instanceof EntryError)) throw error;
          rejections.push({ entry: position, reason: `log record ${position}: ${error.message}` });
        }
      }
    }
  }
  return { entries, rejections };
}

/** protobuf → the JSON shape: ids from base64 bytes to hex, as OTLP/JSON writes them. */
function fromProtobuf(body: Buffer): ExportRequest {
  let object: ExportRequest;
  try {
    object = OtlpExportLogsRequest.toObject(OtlpExportLogsRequest.decode(body), TO_OBJECT) as ExportRequest;
  } catch (error) {
    throw new BadRequest(`the body is not an OTLP ExportLogsServiceRequest: ${(error as Error).message}`);
  }
  for (const r of object.resourceLogs ?? []) {
    for (const s of r.scopeLogs ?? []) {
      for (const log of s.logRecords ?? []) {
        if (log.traceId) log.traceId = Buffer.from(log.traceId, "base64").toString("hex");
        if (log.spanId) log.spanId = Buffer.from(log.spanId, "base64").toString("hex");
      }
    }
  }
  return object;
}

export async function otlpRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.post(
    "/v1/logs",
    {
      config: { ingestEndpoint: "otlp" },
      schema: {
        summary: "OTLP/HTTP logs (protobuf or JSON)",
        tags: ["ingest"],
        consumes: ["application/x-protobuf", "application/json"],
      },
    },
    async (request, reply) => {
      const limits = ctx.config.limits;
      const type = mediaType(request);
      const protobuf = type === "application/x-protobuf" || type === "application/protobuf";
      if (!protobuf && type !== "application/json") {
        throw new UnsupportedMediaType(
          `Content-Type "${type}" is not OTLP (use application/x-protobuf or application/json)`,
        );
      }
      const held = ingestMemoryOf(request);
      const body = await decodedBody(request, limits, held);
      let parsed: ExportRequest;
      if (protobuf) {
        chargeProtobuf(body, OtlpExportLogsRequest, OtlpLogRecord, held, limits.maxBatchEntries);
        parsed = fromProtobuf(body);
      } else {
        chargeJson(body, held, limits.maxBatchEntries);
        try {
          parsed = JSON.parse(body.toString("utf8")) as ExportRequest;
        } catch (error) {
          throw new BadRequest(`the body is not valid JSON: ${(error as Error).message}`);
        }
      }
      const batch = decodeOtlpRequest(parsed, new EntryNormalizer(limits));
      await storeBatch(ctx, "otlp", batch);
      const partialSuccess = batch.rejections.length
        ? {
            rejectedLogRecords: batch.rejections.length,
            errorMessage: batch.rejections
              .slice(0, 10)
              .map((r) => r.reason)
              .join("; "),
          }
        : undefined;
      if (protobuf) {
        const message = OtlpExportLogsResponse.fromObject(partialSuccess ? { partialSuccess } : {});
        return reply
          .type("application/x-protobuf")
          .send(Buffer.from(OtlpExportLogsResponse.encode(message).finish()));
      }
      return reply.type("application/json").send(partialSuccess ? { partialSuccess } : {});
    },
  );
}
