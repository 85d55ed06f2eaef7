import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { startRedisServer } from "../test/support/redis-server.ts";
import { Crc64, crc64 } from "./crc64.ts";
import { RdbInspector } from "./rdb-inspector.ts";

/** Bit-at-a-time CRC-64/Jones with BigInt: slow but obviously the textbook definition. */
function referenceCrc64(data: Uint8Array): string {
  const poly = 0x95ac9329ac4bc9b5n; // reflected 0xad93d23594c935a9
  let crc = 0n;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let bit = 0; bit < 8; bit++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc.toString(16).padStart(16, "0");
}

describe("crc64 (Redis's CRC-64/Jones)", () => {
  it("matches the check value Redis's crc64.c tests against", () => {
    expect(crc64(Buffer.from("123456789"))).toBe("e9c6d914c4b8d9ca");
  });

  it("matches the bitwise definition on unaligned, odd-sized input", () => {
    const data = randomBytes(4099);
    expect(crc64(data.subarray(3))).toBe(referenceCrc64(data.subarray(3)));
    expect(crc64(new Uint8Array(0))).toBe("0000000000000000");
  });

  it("gives the same result however the input is chunked", () => {
    const data = randomBytes(10_000);
    const whole = crc64(data);
    const chunked = new Crc64();
    for (let at = 0, size = 1; at < data.length; at += size, size = (size * 7 + 3) % 997) {
      chunked.update(data.subarray(at, at + size));
    }
    expect(chunked.hex()).toBe(whole);
  });

  it("writes the digest little-endian, as in the RDB trailer", () => {
    expect(new Crc64().update(Buffer.from("123456789")).digestBytes().toString("hex")).toBe(
      "cad9b8c414d9c6e9",
    );
  });

  it("gives the trailer redis-server itself wrote, over a file larger than the module's input window", async () => {
    const redis = await startRedisServer();
    try {
      const client = new Redis(redis.url);
      const pipeline = client.pipeline();
      for (let i = 0; i < 2000; i++) pipeline.set(`{acme}:k:${i}`, randomBytes(700 + (i % 50)));
      pipeline.set("{acme}:compressible", "z".repeat(200_000));
      pipeline.hset("{acme}:hash", "a", "1", "b", "2");
      await pipeline.exec();
      await client.save();
      client.disconnect();
      const file = await readFile(join(redis.dir, "dump.rdb"));
      expect(file.length).toBeGreaterThan(1 << 20);
      const trailer = Buffer.from(file.subarray(-8)).reverse().toString("hex");
      expect(crc64(file.subarray(0, -8))).toBe(trailer);
      // Fed in the uneven chunks a socket gives, unaligned, across window boundaries: the same.
      const chunked = new Crc64();
      for (let at = 0, size = 3; at < file.length - 8; at += size, size = (size * 7 + 11) % 300_001) {
        chunked.update(file.subarray(at, Math.min(at + size, file.length - 8)));
      }
      expect(chunked.hex()).toBe(trailer);
      // And one flipped bit in the middle is refused.
      const damaged = Buffer.from(file);
      damaged[damaged.length >> 1]! ^= 0x10;
      const inspector = new RdbInspector();
      inspector.update(damaged);
      expect(() => inspector.finish()).toThrow(/CRC-64 mismatch/);
    } finally {
      await redis.stop();
    }
  });
});
