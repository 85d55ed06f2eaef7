import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Crc64 } from "./crc64.ts";
import { RdbInspector, type RdbSummary } from "./rdb-inspector.ts";

const str = (text: string): Buffer => Buffer.concat([Buffer.from([text.length]), Buffer.from(text)]);

/** A small but well-formed RDB: header, an AUX field, db 0 with RESIZEDB 2/0, two string keys, EOF, CRC. */
function sampleRdb(options: { checksum?: boolean } = {}): Buffer {
  const content = Buffer.concat([
    Buffer.from("REDIS0010"),
    Buffer.from([0xfa]),
    str("redis-ver"),
    str("7.0.15"),
    Buffer.from([0xfe, 0x00, 0xfb, 0x02, 0x00]),
    Buffer.from([0x00]),
    str("a"),
    str("1"),
    Buffer.from([0x00]),
    str("b"),
    str("2"),
    Buffer.from([0xff]),
  ]);
  const crc = options.checksum === false ? Buffer.alloc(8) : new Crc64().update(content).digestBytes();
  return Buffer.concat([content, crc]);
}

function inspect(file: Buffer, chunkSize = file.length): RdbSummary {
  const inspector = new RdbInspector();
  for (let at = 0; at < file.length; at += chunkSize) inspector.update(file.subarray(at, at + chunkSize));
  return inspector.finish();
}

describe("RdbInspector", () => {
  it("reads version, AUX fields and the first database's key count, and hashes the whole file", () => {
    const file = sampleRdb();
    const summary = inspect(file);
    expect(summary).toMatchObject({
      sizeBytes: file.length,
      rdbVersion: 10,
      aux: { "redis-ver": "7.0.15" },
      firstDatabase: { db: 0, keys: 2 },
      sha256: createHash("sha256").update(file).digest("hex"),
      crc64: new Crc64().update(file.subarray(0, -8)).hex(),
    });
  });

  it("gives the same verdict however the stream is chunked", () => {
    const file = sampleRdb();
    for (const size of [1, 3, 7, 8, 9, 13]) expect(inspect(file, size)).toEqual(inspect(file));
  });

  it("refuses a truncated file", () => {
    const file = sampleRdb();
    expect(() => inspect(file.subarray(0, -1))).toThrow(/CRC-64 mismatch/);
    expect(() => inspect(file.subarray(0, 20))).toThrow(/CRC-64 mismatch|truncated/);
  });

  it("refuses a file with one flipped byte", () => {
    const file = Buffer.from(sampleRdb());
    file[30] = file[30]! ^ 0x01;
    expect(() => inspect(file)).toThrow(/CRC-64 mismatch.*truncated or corrupted/);
  });

  it("refuses what is not an RDB file, and an empty one", () => {
    expect(() => inspect(Buffer.from("*1\r\n$4\r\nPING\r\n-not an rdb-"))).toThrow(/REDIS magic/);
    expect(() => inspect(Buffer.alloc(0))).toThrow(/empty/);
  });

  it("accepts a file written with rdbchecksum no, saying the CRC is absent", () => {
    expect(inspect(sampleRdb({ checksum: false })).crc64).toBeNull();
  });
});

/** An RDB with the given preamble records between the AUX field and db 0 (RESIZEDB 0/0, no keys). */
function rdbWithPreamble(...records: Buffer[]): Buffer {
  const content = Buffer.concat([
    Buffer.from("REDIS0010"),
    Buffer.from([0xfa]),
    str("redis-ver"),
    str("7.0.15"),
    ...records,
    Buffer.from([0xfe, 0x00, 0xfb, 0x00, 0x00, 0xff]),
  ]);
  return Buffer.concat([content, new Crc64().update(content).digestBytes()]);
}

/** An RDB string with a 14-bit length (64..16383 bytes), as Redis writes a library's code. */
const longStr = (text: string): Buffer =>
  Buffer.concat([Buffer.from([0x40 | (text.length >> 8), text.length & 0xff]), Buffer.from(text)]);

const library = (name: string): Buffer =>
  Buffer.concat([
    Buffer.from([0xf5]),
    longStr(`#!lua name=${name}\nredis.register_function('f', function() return 'from ${name}' end)`),
  ]);

describe("RdbInspector: function libraries in the preamble", () => {
  it("counts none in a plain snapshot", () => {
    expect(inspect(sampleRdb()).functionLibraries).toBe(0);
  });

  it("counts each FUNCTION2 record and still reads the first database", () => {
    const summary = inspect(rdbWithPreamble(library("one"), library("two")));
    expect(summary).toMatchObject({ functionLibraries: 2, firstDatabase: { db: 0, keys: 0 } });
  });

  it("steps over module AUX data (module-2 encoding) to find libraries after it", () => {
    const moduleAux = Buffer.concat([
      Buffer.from([0xf7, 0x05, 0x02, 0x02]), // module id 5, UINT opcode, when = 2 (before the keyspace)
      Buffer.from([0x02, 0x07]), // UINT 7
      Buffer.from([0x04]),
      Buffer.alloc(8), // DOUBLE
      Buffer.from([0x05]),
      str("module state"),
      Buffer.from([0x00]), // module EOF
    ]);
    expect(inspect(rdbWithPreamble(moduleAux, library("after-module"))).functionLibraries).toBe(1);
  });

  it("says a library is there for the pre-release (7.0 RC) format it cannot step over", () => {
    const preGa = Buffer.concat([Buffer.from([0xf6]), str("lib"), str("LUA"), str("code")]);
    expect(inspect(rdbWithPreamble(preGa)).functionLibraries).toBe(1);
  });

  it("cannot tell when the preamble holds something unknown before the first database", () => {
    expect(inspect(rdbWithPreamble(Buffer.from([0xf3, 0x01]))).functionLibraries).toBeNull();
  });

  it("keeps no reference to the chunks it was given (their memory is reused once written)", () => {
    const file = sampleRdb();
    const expected = inspect(file);
    const inspector = new RdbInspector();
    const chunk = Buffer.alloc(file.length);
    for (let at = 0; at < file.length; at += 16) {
      const piece = chunk.subarray(0, Math.min(16, file.length - at));
      file.copy(piece, 0, at, at + piece.length);
      inspector.update(piece);
      piece.fill(0xee); // the producer reuses the block for the next bytes
    }
    expect(inspector.finish()).toEqual(expected);
  });
});
