/**
 * The protobuf schemas of the shipper protocols, defined inline (protobufjs) with only what the decoders read.
 * Field numbers follow the upstream definitions:
 *  - Loki push: grafana/loki `pkg/push/push.proto` (PushRequest, StreamAdapter, EntryAdapter, LabelPairAdapter).
 *  - OTLP logs: open-telemetry/opentelemetry-proto `collector/logs/v1/logs_service.proto`, `logs/v1/logs.proto`,
 *    `common/v1/common.proto`, `resource/v1/resource.proto` (SeverityNumber read as its int32 wire value).
 */
import protobuf from "protobufjs";

const LOKI_PUSH = `
syntax = "proto3";
package logproto;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message PushRequest { repeated StreamAdapter streams = 1; }
message StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
message LabelPairAdapter { string name = 1; string value = 2; }
message EntryAdapter { Timestamp timestamp = 1; string line = 2; repeated LabelPairAdapter structuredMetadata = 3; }
`;

const OTLP_LOGS = `
syntax = "proto3";
package otlp;
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
message ExportLogsServiceResponse { ExportLogsPartialSuccess partial_success = 1; }
message ExportLogsPartialSuccess { int64 rejected_log_records = 1; string error_message = 2; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; string schema_url = 3; }
message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; string schema_url = 3; }
message LogRecord {
  fixed64 time_unix_nano = 1;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  uint32 dropped_attributes_count = 7;
  fixed32 flags = 8;
  bytes trace_id = 9;
  bytes span_id = 10;
  fixed64 observed_time_unix_nano = 11;
  string event_name = 12;
}
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; }
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
`;

// Resolved up front: body-shape.ts walks the field types before any decode would resolve them.
const loki = protobuf.parse(LOKI_PUSH, { keepCase: true }).root.resolveAll();
const otlp = protobuf.parse(OTLP_LOGS).root.resolveAll();

export const LokiPushRequest = loki.lookupType("logproto.PushRequest");
/** One log entry of a push: what the batch limit counts. */
export const LokiEntry = loki.lookupType("logproto.EntryAdapter");
export const OtlpExportLogsRequest = otlp.lookupType("otlp.ExportLogsServiceRequest");
export const OtlpLogRecord = otlp.lookupType("otlp.LogRecord");
export const OtlpExportLogsResponse = otlp.lookupType("otlp.ExportLogsServiceResponse");

/** Plain objects as the OTLP/JSON encoding writes them (camelCase, 64-bit integers as strings, ids as hex). */
export const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: Number,
  bytes: String,
  defaults: false,
  oneofs: false,
};
