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
