import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Crc64, crc64 } from "./crc64.ts";

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
});
