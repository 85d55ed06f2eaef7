/**
 * How many containers and entries a body holds, counted over its bytes without building anything, so a body of
 * 20 million empty records is refused before JSON.parse or protobufjs allocate 20 million objects. Each scan stops
 * as soon as a limit is passed. Malformed bodies are not judged here: the decoder that runs next reports them.
 */
import protobuf from "protobufjs";
import { BadRequest } from "../errors.ts";
import { checkBatchSize } from "./batch.ts";
import { CONTAINER_COST, type BodyMemory } from "./ingest-memory.ts";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
/** Containers are charged to the request's memory in steps of this many (one check per step, not per byte). */
const CHARGE_STEP = 4096;

/**
 * Charges a JSON body's objects and arrays to `memory` and, when the body is a top-level array (the native batch
 * form), checks its element count against `maxEntries` while counting.
 */
export function chargeJson(body: Buffer, memory: BodyMemory, maxEntries: number): void {
  let depth = 0;
  let containers = 0;
  let charged = 0;
  let topArray = false;
  let items = 0;
  const n = body.length;
  for (let i = 0; i < n; i++) {
    const c = body[i]!;
    if (c === QUOTE) {
      // Skip the string: the next quote not escaped by an odd run of backslashes.
      let j = i;
      for (;;) {
        j = body.indexOf(QUOTE, j + 1);
        if (j < 0) return;
        let slashes = 0;
        while (body[j - 1 - slashes] === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
      }
      i = j;
      if (topArray && depth === 1 && items === 0) items = 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (depth === 0 && c === OPEN_ARRAY) topArray = true;
      else if (topArray && depth === 1 && items === 0) items = 1;
      depth++;
      if (++containers - charged >= CHARGE_STEP) {
        memory.take((containers - charged) * CONTAINER_COST, `the body's ${containers}+ objects and arrays`);
        charged = containers;
      }
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
    } else if (c === COMMA && topArray && depth === 1) {
      checkBatchSize(++items, maxEntries);
    } else if (topArray && depth === 1 && items === 0 && c > 0x20) {
      items = 1;
    }
  }
  if (topArray) checkBatchSize(items, maxEntries);
  memory.take((containers - charged) * CONTAINER_COST, `the body's ${containers} objects and arrays`);
}

/** Deeper nesting is refused: the decoders recurse, and no shipper nests anywhere near this deep. */
const MAX_PROTOBUF_DEPTH = 64;
const LENGTH_DELIMITED = 2;

/**
 * Charges a protobuf body's messages to `memory` and counts the messages of `entryType` (OTLP LogRecord, Loki
 * EntryAdapter) against `maxEntries`, walking the wire format with the schema of `root` (only fields of message
 * type are entered; everything else is skipped).
 */
export function chargeProtobuf(
  body: Uint8Array,
  root: protobuf.Type,
  entryType: protobuf.Type,
  memory: BodyMemory,
  maxEntries: number,
): void {
  const reader = protobuf.Reader.create(body);
  let messages = 0;
  let charged = 0;
  let entries = 0;
  const walk = (type: protobuf.Type, end: number, depth: number): void => {
    if (depth > MAX_PROTOBUF_DEPTH)
      throw new BadRequest(`the body nests messages deeper than ${MAX_PROTOBUF_DEPTH} levels`);
    while (reader.pos < end) {
      const tag = reader.uint32();
      const field = type.fieldsById[tag >>> 3];
      const wireType = tag & 7;
      const child = field?.resolvedType;
      if (wireType !== LENGTH_DELIMITED || !(child instanceof protobuf.Type)) {
        reader.skipType(wireType);
        continue;
      }
      const length = reader.uint32();
      const fieldEnd = reader.pos + length;
      if (fieldEnd > end) return; // truncated: the decoder says so
      if (child === entryType) checkBatchSize(++entries, maxEntries);
      if (++messages - charged >= CHARGE_STEP) {
        memory.take((messages - charged) * CONTAINER_COST, `the body's ${messages}+ messages`);
        charged = messages;
      }
      walk(child, fieldEnd, depth + 1);
      reader.pos = fieldEnd;
    }
  };
  try {
    walk(root, body.length, 0);
  } catch (error) {
    // Our own 4xx go out; a truncated or invalid wire format is reported by the decoder that runs next.
    if ((error as { statusCode?: number }).statusCode) throw error;
  }
  memory.take((messages - charged) * CONTAINER_COST, `the body's ${messages} messages`);
}
