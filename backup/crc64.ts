/**
 * CRC-64/Jones exactly as Redis's `crc64.c` computes the RDB trailer: polynomial 0xad93d23594c935a9, reflected
 * input and output, initial value 0, no final xor (check value for "123456789": 0xe9c6d914c4b8d9ca).
 *
 * The hot loop runs on every byte of a multi-gigabyte snapshot, so it is slicing-by-8 over two 32-bit halves:
 * BigInt arithmetic is ~50x slower in V8, and a byte-at-a-time table is ~4x slower than eight lookups per
 * eight bytes. `bench/backup-crc64.ts` measures it.
 */

/** The reflected form of Jones's polynomial 0xad93d23594c935a9, split in halves. */
const POLY_LO = 0x4bc9b5 | (0xac << 24); // low 32 bits of 0x95ac9329ac4bc9b5
const POLY_HI = 0x95ac9329;

/** Table k (0..7) entry b lives at k * 256 + b; LO and HI hold the two halves of each 64-bit entry. */
const LO = new Uint32Array(8 * 256);
const HI = new Uint32Array(8 * 256);

for (let b = 0; b < 256; b++) {
  let lo = b;
  let hi = 0;
  for (let bit = 0; bit < 8; bit++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | (hi << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry) {
      lo = (lo ^ POLY_LO) >>> 0;
      hi = (hi ^ POLY_HI) >>> 0;
    }
  }
  LO[b] = lo;
  HI[b] = hi;
}
for (let k = 1; k < 8; k++) {
  for (let b = 0; b < 256; b++) {
    const prevLo = LO[(k - 1) * 256 + b]!;
    const prevHi = HI[(k - 1) * 256 + b]!;
    const index = prevLo & 0xff;
    LO[k * 256 + b] = (((prevLo >>> 8) | (prevHi << 24)) ^ LO[index]!) >>> 0;
    HI[k * 256 + b] = ((prevHi >>> 8) ^ HI[index]!) >>> 0;
  }
}

/** Incremental CRC-64 over any number of chunks. */
export class Crc64 {
  #lo = 0;
  #hi = 0;

  update(data: Uint8Array): this {
    let lo = this.#lo;
    let hi = this.#hi;
    const length = data.length;
    let i = 0;
    // Byte at a time until the view is 4-byte aligned, so the bulk can be read as Uint32 words.
    while (i < length && (data.byteOffset + i) % 4 !== 0) {
      const index = (lo ^ data[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ LO[index]!;
      hi = (hi >>> 8) ^ HI[index]!;
      i++;
    }
    const words = (length - i) >>> 3;
    if (words > 0) {
      // Little-endian words: on x86/arm64 Node, Uint32Array reads bytes 0..3 as the low-order byte first.
      const view = new Uint32Array(data.buffer, data.byteOffset + i, words * 2);
      for (let w = 0; w < view.length; w += 2) {
        const a = lo ^ view[w]!;
        const b = hi ^ view[w + 1]!;
        lo =
          LO[1792 + (a & 0xff)]! ^
          LO[1536 + ((a >>> 8) & 0xff)]! ^
          LO[1280 + ((a >>> 16) & 0xff)]! ^
          LO[1024 + (a >>> 24)]! ^
          LO[768 + (b & 0xff)]! ^
          LO[512 + ((b >>> 8) & 0xff)]! ^
          LO[256 + ((b >>> 16) & 0xff)]! ^
          LO[b >>> 24]!;
        hi =
          HI[1792 + (a & 0xff)]! ^
          HI[1536 + ((a >>> 8) & 0xff)]! ^
          HI[1280 + ((a >>> 16) & 0xff)]! ^
          HI[1024 + (a >>> 24)]! ^
          HI[768 + (b & 0xff)]! ^
          HI[512 + ((b >>> 8) & 0xff)]! ^
          HI[256 + ((b >>> 16) & 0xff)]! ^
          HI[b >>> 24]!;
      }
      i += words * 8;
    }
    while (i < length) {
      const index = (lo ^ data[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ LO[index]!;
      hi = (hi >>> 8) ^ HI[index]!;
      i++;
    }
    this.#lo = lo >>> 0;
    this.#hi = hi >>> 0;
    return this;
  }

  /** The CRC as 8 little-endian bytes, the order Redis writes it at the end of an RDB file. */
  digestBytes(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32LE(this.#lo, 0);
    out.writeUInt32LE(this.#hi, 4);
    return out;
  }

  /** The CRC as 16 lowercase hex digits (big-endian, as printed by Redis's own tests). */
  hex(): string {
    return this.#hi.toString(16).padStart(8, "0") + this.#lo.toString(16).padStart(8, "0");
  }
}

export function crc64(data: Uint8Array): string {
  return new Crc64().update(data).hex();
}
