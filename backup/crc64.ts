/**
 * CRC-64/Jones exactly as Redis's `crc64.c` computes the RDB trailer: polynomial 0xad93d23594c935a9, reflected
 * input and output, initial value 0, no final xor (check value for "123456789": 0xe9c6d914c4b8d9ca).
 *
 * The hot loop runs on every byte of a multi-gigabyte snapshot, beside Redis' forked child on the same cores,
 * so it is slicing-by-8 in a small WebAssembly function: eight 64-bit table lookups per eight bytes, where
 * JavaScript needs sixteen on 32-bit halves (BigInt is ~50x slower still). The function is assembled below from
 * its instructions, so there is no binary to trust and no toolchain. `bench/backup-crc64.ts` measures it.
 */

/** The reflected form of Jones's polynomial 0xad93d23594c935a9, split in halves. */
const POLY_LO = 0x4bc9b5 | (0xac << 24); // low 32 bits of 0x95ac9329ac4bc9b5
const POLY_HI = 0x95ac9329;

/** Module memory: the running CRC at 0, the eight tables at TABLES, the input window at INPUT. */
const TABLES = 1024;
const INPUT = 1 << 16;
const WINDOW = 1 << 18;

/** Table k (0..7) entry b: the CRC of byte b followed by k zero bytes, as [low, high] 32-bit halves. */
function tables(): Uint32Array {
  const table = new Uint32Array(8 * 256 * 2);
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
    table[2 * b] = lo;
    table[2 * b + 1] = hi;
  }
  for (let k = 1; k < 8; k++) {
    for (let b = 0; b < 256; b++) {
      const prev = 2 * ((k - 1) * 256 + b);
      const index = 2 * (table[prev]! & 0xff);
      table[2 * (k * 256 + b)] = (((table[prev]! >>> 8) | (table[prev + 1]! << 24)) ^ table[index]!) >>> 0;
      table[2 * (k * 256 + b) + 1] = ((table[prev + 1]! >>> 8) ^ table[index + 1]!) >>> 0;
    }
  }
  return table;
}

const unsigned = (n: number): number[] => {
  const out: number[] = [];
  do {
    const low = n & 0x7f;
    n >>>= 7;
    out.push(n ? low | 0x80 : low);
  } while (n);
  return out;
};
const signed = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const low = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(low & 0x40)) || (n === -1 && low & 0x40)) return [...out, low];
    out.push(low | 0x80);
  }
};
const vector = (items: number[][]): number[] => [...unsigned(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...unsigned(body.length), ...body];
const name = (text: string): number[] => [...unsigned(text.length), ...Buffer.from(text, "latin1")];

/** The WebAssembly opcodes used (https://webassembly.github.io/spec/core/binary/instructions.html). */
const op = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  get: 0x20,
  set: 0x21,
  i64Load: 0x29,
  i64Load8u: 0x31,
  i64Store: 0x37,
  i32Const: 0x41,
  i64Const: 0x42,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32And: 0x71,
  i32Shl: 0x74,
  i64Xor: 0x85,
  i64ShrU: 0x88,
  i32WrapI64: 0xa7,
} as const;
/** `update(length)`'s locals: the parameter, then three i32 and two i64. */
const local = { length: 0, at: 1, wordsEnd: 2, end: 3, crc: 4, word: 5 } as const;
/** i64.load with 8-byte alignment at a constant offset. */
const load64 = (offset: number): number[] => [op.i64Load, 3, ...unsigned(offset)];

/** Pushes table k's entry for byte `position` (0 = lowest) of `word`. */
function lookup(k: number, position: number): number[] {
  const index =
    position === 0
      ? [op.get, local.word, op.i32WrapI64, op.i32Const, 3, op.i32Shl]
      : [op.get, local.word, op.i64Const, ...signed(8 * position - 3), op.i64ShrU, op.i32WrapI64];
  return [...index, op.i32Const, ...signed(0xff << 3), op.i32And, ...load64(TABLES + k * 2048)];
}

/**
 * update(length): folds `length` bytes at INPUT into the CRC at 0. Eight bytes at a time: byte 0 of each
 * little-endian word (xored with the CRC) indexes table 7, byte 7 table 0; then the bytes left one at a time.
 */
const updateBody: number[] = [
  ...vector([
    [3, 0x7f],
    [2, 0x7e],
  ]),
  ...[op.i32Const, 0, ...load64(0), op.set, local.crc],
  ...[op.i32Const, ...signed(INPUT), op.set, local.at],
  ...[op.i32Const, ...signed(INPUT), op.get, local.length, op.i32Const, ...signed(-8), op.i32And, op.i32Add],
  ...[op.set, local.wordsEnd],
  ...[op.i32Const, ...signed(INPUT), op.get, local.length, op.i32Add, op.set, local.end],
  ...[op.block, 0x40, op.loop, 0x40],
  ...[op.get, local.at, op.get, local.wordsEnd, op.i32GeU, op.brIf, 1],
  ...[op.get, local.at, ...load64(0), op.get, local.crc, op.i64Xor, op.set, local.word],
  ...lookup(7, 0),
  ...[1, 2, 3, 4, 5, 6, 7].flatMap((position) => [...lookup(7 - position, position), op.i64Xor]),
  ...[op.set, local.crc],
  ...[op.get, local.at, op.i32Const, 8, op.i32Add, op.set, local.at, op.br, 0],
  ...[op.end, op.end],
  ...[op.block, 0x40, op.loop, 0x40],
  ...[op.get, local.at, op.get, local.end, op.i32GeU, op.brIf, 1],
  // crc = table0[(crc ^ byte) & 0xff] ^ (crc >> 8)
  ...[op.get, local.crc, op.get, local.at, op.i64Load8u, 0, 0, op.i64Xor, op.i32WrapI64],
  ...[op.i32Const, ...signed(0xff), op.i32And, op.i32Const, 3, op.i32Shl, ...load64(TABLES)],
  ...[op.get, local.crc, op.i64Const, 8, op.i64ShrU, op.i64Xor, op.set, local.crc],
  ...[op.get, local.at, op.i32Const, 1, op.i32Add, op.set, local.at, op.br, 0],
  ...[op.end, op.end],
  ...[op.i32Const, 0, op.get, local.crc, op.i64Store, 3, 0],
  op.end,
];

const wasm = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
  ...section(1, vector([[0x60, ...vector([[0x7f]]), ...vector([])]])), // type 0: (i32) -> ()
  ...section(3, vector([[0]])), // function 0 has type 0
  ...section(5, vector([[0x00, ...unsigned((INPUT + WINDOW) / 65536)]])), // one memory
  ...section(
    7,
    vector([
      [...name("update"), 0x00, 0],
      [...name("memory"), 0x02, 0],
    ]),
  ),
  ...section(10, vector([[...unsigned(updateBody.length), ...updateBody]])),
]);

/** What is used of WebAssembly (the project's `lib` is es2024 without the DOM, where its types live). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => {
    readonly exports: { update: (length: number) => void; memory: { buffer: ArrayBuffer } };
  };
};

const { exports } = new WebAssembly.Instance(new WebAssembly.Module(wasm));
const update = exports.update;
const memory = exports.memory.buffer;
const bytes = new Uint8Array(memory);
/** words[0], words[1]: the running CRC's low and high halves. */
const words = new Uint32Array(memory, 0, 2);
new Uint32Array(memory, TABLES, 8 * 256 * 2).set(tables());

/** Incremental CRC-64 over any number of chunks. */
export class Crc64 {
  #lo = 0;
  #hi = 0;

  update(data: Uint8Array): this {
    words[0] = this.#lo;
    words[1] = this.#hi;
    for (let at = 0; at < data.length; at += WINDOW) {
      const window = data.subarray(at, at + WINDOW);
      bytes.set(window, INPUT);
      update(window.length);
    }
    this.#lo = words[0]!;
    this.#hi = words[1]!;
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
