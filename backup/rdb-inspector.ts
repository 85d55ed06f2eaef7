/**
 * Verifies an RDB snapshot in one streaming pass, without holding it in memory: the `REDIS<version>` header,
 * the CRC-64 trailer over everything before it (what Redis itself checks on load), a SHA-256 of the whole file
 * for the manifest, and the preamble (AUX fields, first SELECTDB/RESIZEDB) that says how many keys the snapshot
 * holds. Used on the way in (backup) and on the way out (restore refuses what fails here).
 */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { Crc64 } from "./crc64.ts";

/** The preamble is parsed from the first bytes only; 1 MiB covers AUX fields and typical function libraries. */
const HEAD_LIMIT = 1 << 20;
const TRAILER = 8;

export interface RdbSummary {
  readonly sizeBytes: number;
  readonly rdbVersion: number;
  readonly sha256: string;
  /** The stored CRC-64 (hex), or null when the snapshot was written with `rdbchecksum no` (stored as zero). */
  readonly crc64: string | null;
  /** AUX fields of the header, e.g. `redis-ver`, `ctime`, `used-mem`. */
  readonly aux: Readonly<Record<string, string>>;
  /**
   * Keys in the first database of the snapshot, from its RESIZEDB record (exact at fork time, expired-but-not-yet-
   * deleted keys included). null when the preamble could not be read (e.g. a module AUX field before the data).
   */
  readonly firstDatabase: { readonly db: number; readonly keys: number } | null;
  /**
   * Lua function libraries (`FUNCTION LOAD` code) in the snapshot. Redis writes them before the first database,
   * so the preamble holds them all. null when the preamble could not be read that far: then nobody can say.
   */
  readonly functionLibraries: number | null;
}

export class RdbVerificationError extends Error {}

export class RdbInspector {
  readonly #crc = new Crc64();
  readonly #sha: Hash = createHash("sha256");
  #size = 0;
  #head: Buffer[] = [];
  #headLength = 0;
  /** The last bytes seen, withheld from the CRC until we know whether they are the trailer. */
  #tail: Buffer = Buffer.alloc(0);
  /** The last byte covered by the CRC: the EOF opcode (0xff) in a well-formed file. */
  #lastChecksummed = -1;

  update(chunk: Buffer): void {
    this.#size += chunk.length;
    this.#sha.update(chunk);
    // Copies, never the chunk itself: the snapshot source reuses a block once it is written.
    if (this.#headLength < HEAD_LIMIT) {
      const kept = Buffer.from(chunk.subarray(0, HEAD_LIMIT - this.#headLength));
      this.#head.push(kept);
      this.#headLength += kept.length;
    }
    if (chunk.length >= TRAILER) {
      this.#checksum(this.#tail);
      this.#checksum(chunk.subarray(0, chunk.length - TRAILER));
      this.#tail = Buffer.from(chunk.subarray(chunk.length - TRAILER));
    } else {
      const joined = Buffer.concat([this.#tail, chunk]);
      const spill = Math.max(0, joined.length - TRAILER);
      this.#checksum(joined.subarray(0, spill));
      this.#tail = joined.subarray(spill);
    }
  }

  #checksum(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#crc.update(bytes);
    this.#lastChecksummed = bytes[bytes.length - 1]!;
  }

  /** Checks header and trailer; throws RdbVerificationError with a message a person can act on. */
  finish(): RdbSummary {
    const head = Buffer.concat(this.#head).subarray(0, HEAD_LIMIT);
    if (this.#size < 9 + 1 + TRAILER || head.toString("latin1", 0, 5) !== "REDIS") {
      throw new RdbVerificationError(
        this.#size === 0
          ? "the snapshot is empty"
          : "not an RDB file (it does not start with the REDIS magic)",
      );
    }
    const versionText = head.toString("latin1", 5, 9);
    const rdbVersion = Number(versionText);
    if (!/^\d{4}$/.test(versionText) || rdbVersion < 1) {
      throw new RdbVerificationError(`unreadable RDB version "${versionText}" in the header`);
    }
    if (rdbVersion < 5) {
      // RDB versions before 5 have no checksum: nothing here could tell a truncated file from a good one.
      throw new RdbVerificationError(`RDB version ${rdbVersion} carries no checksum; refusing to trust it`);
    }
    const stored = Buffer.from(this.#tail);
    const expected = this.#crc.digestBytes();
    const checksumDisabled = stored.every((byte) => byte === 0);
    if (!checksumDisabled && !stored.equals(expected)) {
      throw new RdbVerificationError(
        `CRC-64 mismatch: the file says ${hexOf(stored)}, its content gives ${hexOf(expected)} ` +
          "(the file is truncated or corrupted)",
      );
    }
    // The byte before the checksum is the EOF opcode; without it the file was cut short.
    if (this.#lastChecksummed !== 0xff) {
      throw new RdbVerificationError("the file does not end with the RDB EOF marker (it is truncated)");
    }
    const preamble = readPreamble(head);
    return {
      sizeBytes: this.#size,
      rdbVersion,
      sha256: this.#sha.digest("hex"),
      crc64: checksumDisabled ? null : hexOf(stored),
      aux: preamble.aux,
      firstDatabase: preamble.firstDatabase,
      functionLibraries: preamble.functionLibraries,
    };
  }
}

function hexOf(littleEndian: Buffer): string {
  return Buffer.from(littleEndian).reverse().toString("hex");
}

interface Preamble {
  aux: Record<string, string>;
  firstDatabase: { db: number; keys: number } | null;
  functionLibraries: number | null;
}

/** rdb.h opcodes of the preamble. */
const OPCODE = {
  functionPreGa: 0xf6,
  function2: 0xf5,
  moduleAux: 0xf7,
  aux: 0xfa,
  selectDb: 0xfe,
  resizeDb: 0xfb,
  eof: 0xff,
} as const;

/**
 * Reads AUX fields, module AUX data and function libraries up to the first database's RESIZEDB record; stops
 * quietly at anything it does not know (then what it could not reach is null).
 */
function readPreamble(head: Buffer): Preamble {
  const aux: Record<string, string> = {};
  let libraries = 0;
  const reader = new HeadReader(head, 9);
  const unknown = (): Preamble => ({ aux, firstDatabase: null, functionLibraries: null });
  try {
    for (;;) {
      const opcode = reader.byte();
      if (opcode === OPCODE.aux) {
        const key = reader.string();
        aux[key] = reader.string();
      } else if (opcode === OPCODE.function2) {
        reader.string(); // one library: its code, `#!lua name=<lib>` first
        libraries++;
      } else if (opcode === OPCODE.functionPreGa) {
        // Redis 7.0 release candidates' format: a library for certain, but one we cannot step over.
        return { aux, firstDatabase: null, functionLibraries: libraries + 1 };
      } else if (opcode === OPCODE.moduleAux) {
        reader.moduleAux();
      } else if (opcode === OPCODE.selectDb) {
        const db = reader.length();
        if (reader.byte() !== OPCODE.resizeDb)
          return { aux, firstDatabase: null, functionLibraries: libraries };
        const keys = reader.length();
        return { aux, firstDatabase: { db, keys }, functionLibraries: libraries };
      } else if (opcode === OPCODE.eof) {
        return { aux, firstDatabase: { db: 0, keys: 0 }, functionLibraries: libraries };
      } else {
        return unknown();
      }
    }
  } catch {
    return unknown();
  }
}

/** Length and string decoding of the RDB format (rdb.c: rdbLoadLen, rdbGenericLoadStringObject). */
class HeadReader {
  readonly #buffer: Buffer;
  #at: number;

  constructor(buffer: Buffer, at: number) {
    this.#buffer = buffer;
    this.#at = at;
  }

  byte(): number {
    if (this.#at >= this.#buffer.length) throw new RangeError("end of head");
    return this.#buffer[this.#at++]!;
  }

  /** A length, or for the special encodings (type 3) -1 - encoding. */
  #lengthOrEncoding(): number {
    const first = this.byte();
    switch (first >> 6) {
      case 0:
        return first & 0x3f;
      case 1:
        return ((first & 0x3f) << 8) | this.byte();
      case 2: {
        const width = first === 0x80 ? 4 : first === 0x81 ? 8 : 0;
        if (!width) throw new RangeError("bad length");
        let value = 0;
        for (let i = 0; i < width; i++) value = value * 256 + this.byte();
        return value;
      }
      default:
        return -1 - (first & 0x3f);
    }
  }

  length(): number {
    const value = this.#lengthOrEncoding();
    if (value < 0) throw new RangeError("encoded value where a length was expected");
    return value;
  }

  string(): string {
    const value = this.#lengthOrEncoding();
    if (value >= 0) return this.#take(value).toString("utf8");
    const encoding = -1 - value;
    if (encoding === 0) return String(this.#take(1).readInt8(0));
    if (encoding === 1) return String(this.#take(2).readInt16LE(0));
    if (encoding === 2) return String(this.#take(4).readInt32LE(0));
    if (encoding === 3) {
      const compressed = this.length();
      this.length(); // uncompressed length
      this.#take(compressed);
      return "<lzf>";
    }
    throw new RangeError("unknown string encoding");
  }

  /**
   * Steps over a module AUX record (rdb.c rdbSaveSingleModuleAux): module id, `when` as a UINT opcode and value,
   * then the module's values in the self-describing module-2 encoding up to its EOF opcode.
   */
  moduleAux(): void {
    this.length(); // module id
    this.length(); // RDB_MODULE_OPCODE_UINT
    this.length(); // when: before or after the keyspace
    for (;;) {
      const opcode = this.length();
      if (opcode === 0) return; // RDB_MODULE_OPCODE_EOF
      if (opcode === 1 || opcode === 2)
        this.length(); // SINT, UINT
      else if (opcode === 3)
        this.#take(4); // FLOAT
      else if (opcode === 4)
        this.#take(8); // DOUBLE
      else if (opcode === 5)
        this.string(); // STRING
      else throw new RangeError("unknown module opcode");
    }
  }

  #take(count: number): Buffer {
    if (this.#at + count > this.#buffer.length) throw new RangeError("end of head");
    const out = this.#buffer.subarray(this.#at, this.#at + count);
    this.#at += count;
    return out;
  }
}

/** A pass-through stream that inspects what flows through it and fails at the end if the snapshot is invalid. */
export class RdbVerifyingStream extends Transform {
  readonly inspector = new RdbInspector();
  summary: RdbSummary | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.inspector.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.summary = this.inspector.finish();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
}
