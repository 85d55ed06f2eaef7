/**
 * Takes a point-in-time snapshot of a running Redis the way `redis-cli --rdb` does: connect as a replica would,
 * `REPLCONF capa eof`, `REPLCONF rdb-only 1` (Redis ≥ 7.0 then sends the RDB and no replication stream), `SYNC`,
 * and read the payload
 * in either framing Redis uses:
 *   - disk-backed sync: `$<length>\r\n` then exactly that many bytes;
 *   - diskless sync (`repl-diskless-sync yes`): `$EOF:<40-byte mark>\r\n`, the bytes, then the same mark.
 * Before either, Redis may send "\n" keepalives while its fork writes the snapshot.
 * The payload comes out as a Readable with backpressure, so memory stays flat whatever the dataset size, in
 * blocks of PAYLOAD_BLOCK_BYTES.
 */
import { Readable } from "node:stream";
import type { Socket } from "node:net";
import type { RedisTarget } from "./redis-url.ts";
import { RedisReplyError, RespConnection, type ReadSink } from "./resp.ts";

const EOF_MARK_LENGTH = 40;
/**
 * The payload comes out in blocks of this size (the last one shorter), whatever sizes the socket reads have:
 * while Redis' fork trickles the snapshot out they average 9 KiB, and each chunk costs a trip through the
 * streams, a CRC/SHA call and a file write. 256 KiB, not more: 300 MiB written in 256 KiB writes took 65 ms of
 * system time here, in 1 MiB writes 70-390 ms (the block no longer stays in this CPU's 1 MiB L2 cache).
 */
export const PAYLOAD_BLOCK_BYTES = 256 << 10;

export interface Snapshot {
  /** `redis_version` from INFO server just before SYNC. */
  readonly redisVersion: string;
  /** Keys per database from INFO keyspace just before SYNC (writers may change it before the fork). */
  readonly keyspace: ReadonlyMap<number, number>;
  readonly framing: "length" | "eof-mark";
  /** The RDB file's bytes, framing removed, in blocks of PAYLOAD_BLOCK_BYTES. Errors if the connection ends early. */
  readonly payload: Readable;
  /**
   * Gives a payload block back for the next bytes, once nothing refers to it any more (the file write is done).
   * Blocks not given back are left to the garbage collector: that is correct too, but each 256 KiB block was
   * garbage at once, and the ones waiting for a collection kept ~50 MB more resident.
   */
  readonly reuse: (block: Buffer) => void;
}

export interface SnapshotOptions {
  /** Fail when Redis sends nothing (not even a keepalive) for this long. Default 60 s. */
  readonly idleTimeoutMs?: number;
}

/** Parses `db0:keys=1,expires=0,avg_ttl=0` lines of INFO keyspace. */
export function keyspaceCounts(info: ReadonlyMap<string, string>): Map<number, number> {
  const counts = new Map<number, number>();
  for (const [field, value] of info) {
    const db = /^db(\d+)$/.exec(field);
    const keys = /(?:^|,)keys=(\d+)/.exec(value);
    if (db && keys) counts.set(Number(db[1]), Number(keys[1]));
  }
  return counts;
}

export async function openSnapshot(target: RedisTarget, options: SnapshotOptions = {}): Promise<Snapshot> {
  const connection = await RespConnection.open(target);
  try {
    const server = await connection.info("server");
    const keyspace = keyspaceCounts(await connection.info("keyspace"));
    // `capa eof` lets a diskless master stream the snapshot straight from its fork instead of writing it to its
    // disk first; without it the master falls back to disk-backed sync. Redis < 7.0 does not know rdb-only and
    // then follows the RDB with the replication stream, which we never read.
    for (const option of [
      ["capa", "eof"],
      ["rdb-only", "1"],
    ]) {
      try {
        await connection.command("REPLCONF", ...option);
      } catch (error) {
        if (!(error instanceof RedisReplyError)) throw error;
      }
    }
    const { socket, pending, onRead } = connection.detach();
    const framing = await readSyncHeader(
      socket,
      pending,
      onRead,
      options.idleTimeoutMs ?? 60_000,
      target.display,
    );
    const blocks = new BlockPool();
    return {
      redisVersion: server.get("redis_version") ?? "unknown",
      keyspace,
      framing: framing.mark ? "eof-mark" : "length",
      payload: payloadStream(socket, framing, onRead, blocks, target.display),
      reuse: (block) => blocks.give(block),
    };
  } catch (error) {
    connection.close();
    throw error;
  }
}

interface Framing {
  readonly length: number | null;
  readonly mark: Buffer | null;
  /** Payload bytes that arrived together with the header line. */
  readonly rest: Buffer;
}

function readSyncHeader(
  socket: Socket,
  pending: Buffer,
  onRead: (sink: ReadSink) => void,
  idleTimeoutMs: number,
  display: string,
): Promise<Framing> {
  return new Promise((resolve, reject) => {
    let buffer: Buffer = pending;
    const cleanup = (): void => {
      onRead(() => {});
      socket.off("error", onError);
      socket.off("close", onClose);
      socket.off("timeout", onTimeout);
      // Hold further bytes until the payload stream is attached.
      socket.pause();
    };
    const fail = (error: Error): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]); // a copy: the read buffer is reused
      let start = 0;
      while (start < buffer.length && buffer[start] === 0x0a) start++; // keepalives while the fork saves
      buffer = buffer.subarray(start);
      const lineEnd = buffer.indexOf("\r\n");
      if (lineEnd === -1) {
        if (buffer.length > 1024) fail(new Error(`${display} sent an unreadable SYNC reply`));
        return;
      }
      const line = buffer.toString("latin1", 0, lineEnd);
      const rest = buffer.subarray(lineEnd + 2);
      if (line.startsWith("-")) {
        fail(new Error(`${display} refused SYNC: ${line.slice(1)}`));
      } else if (line.startsWith("$EOF:") && line.length === 5 + EOF_MARK_LENGTH) {
        cleanup();
        resolve({ length: null, mark: Buffer.from(line.slice(5), "latin1"), rest });
      } else if (/^\$\d+$/.test(line)) {
        cleanup();
        resolve({ length: Number(line.slice(1)), mark: null, rest });
      } else {
        fail(new Error(`${display} sent an unexpected SYNC reply: ${JSON.stringify(line.slice(0, 80))}`));
      }
    };
    const onError = (error: Error): void =>
      fail(new Error(`connection to ${display} failed during SYNC`, { cause: error }));
    const onClose = (): void =>
      fail(new Error(`${display} closed the connection before sending the snapshot`));
    const onTimeout = (): void =>
      fail(new Error(`${display} sent nothing for ${idleTimeoutMs} ms during SYNC`));
    socket.setTimeout(idleTimeoutMs);
    onRead(onData);
    socket.on("error", onError);
    socket.on("close", onClose);
    socket.on("timeout", onTimeout);
    socket.write("SYNC\r\n");
    socket.resume();
  });
}

/** Payload blocks given back, for the next ones; only blocks this pool handed out are taken back. */
class BlockPool {
  readonly #free: Buffer[] = [];
  readonly #ours = new WeakSet<Buffer>();

  take(): Buffer {
    const block = this.#free.pop() ?? Buffer.allocUnsafeSlow(PAYLOAD_BLOCK_BYTES);
    this.#ours.add(block);
    return block;
  }

  give(block: Buffer): void {
    if (this.#ours.delete(block) && this.#free.length < 16) this.#free.push(block);
  }
}

/**
 * Copies the payload into fixed blocks from the pool and pushes each full one (the socket's read buffer is reused,
 * so nothing is pushed that points into it); `pause` when the stream wants no more.
 */
class BlockFiller {
  received = 0;
  #block: Buffer;
  #filled = 0;
  readonly #blocks: BlockPool;
  readonly #push: (block: Buffer) => boolean;
  readonly #pause: () => void;

  constructor(blocks: BlockPool, push: (block: Buffer) => boolean, pause: () => void) {
    this.#blocks = blocks;
    this.#push = push;
    this.#pause = pause;
    this.#block = blocks.take();
  }

  add(bytes: Buffer): void {
    this.received += bytes.length;
    let at = 0;
    while (at < bytes.length) {
      const take = Math.min(bytes.length - at, PAYLOAD_BLOCK_BYTES - this.#filled);
      bytes.copy(this.#block, this.#filled, at, at + take);
      this.#filled += take;
      at += take;
      if (this.#filled === PAYLOAD_BLOCK_BYTES) {
        const full = this.#block;
        this.#block = this.#blocks.take();
        this.#filled = 0;
        if (!this.#push(full)) this.#pause();
      }
    }
  }

  /** The last, partly filled block. */
  flush(): void {
    if (this.#filled > 0) this.#push(this.#block.subarray(0, this.#filled));
  }
}

/**
 * Diskless mode ends with a 40-byte mark instead of a length: the last 40 bytes seen may be that mark, so they are
 * held back until more arrive. Passes everything before them on; true when the held bytes are the mark.
 */
class EndMarkWatch {
  #held: Buffer = Buffer.alloc(0);
  readonly #mark: Buffer;

  constructor(mark: Buffer) {
    this.#mark = mark;
  }

  take(chunk: Buffer, emit: (bytes: Buffer) => void): boolean {
    let window: Buffer;
    if (chunk.length >= EOF_MARK_LENGTH) {
      emit(this.#held);
      emit(chunk.subarray(0, chunk.length - EOF_MARK_LENGTH));
      window = chunk.subarray(chunk.length - EOF_MARK_LENGTH);
    } else {
      const joined = Buffer.concat([this.#held, chunk]);
      const spill = Math.max(0, joined.length - EOF_MARK_LENGTH);
      emit(joined.subarray(0, spill));
      window = joined.subarray(spill);
    }
    this.#held = Buffer.from(window); // a copy: the read buffer is reused
    return this.#held.length === EOF_MARK_LENGTH && this.#held.equals(this.#mark);
  }
}

function payloadStream(
  socket: Socket,
  framing: Framing,
  onRead: (sink: ReadSink) => void,
  blocks: BlockPool,
  display: string,
): Readable {
  let remaining = framing.length ?? Number.POSITIVE_INFINITY;
  let done = false;

  const payload = new Readable({
    highWaterMark: 1 << 20,
    read() {
      socket.resume();
    },
    destroy(error, callback) {
      socket.destroy();
      callback(error);
    },
  });
  const filler = new BlockFiller(
    blocks,
    (block) => payload.push(block),
    () => socket.pause(),
  );
  const emit = (bytes: Buffer): void => filler.add(bytes);
  const endMark = framing.mark === null ? undefined : new EndMarkWatch(framing.mark);
  const finish = (): void => {
    done = true;
    filler.flush();
    payload.push(null);
    socket.destroy();
  };

  const onData = (chunk: Buffer): void => {
    if (done) return;
    if (endMark) {
      if (endMark.take(chunk, emit)) finish();
      return;
    }
    const take = Math.min(chunk.length, remaining);
    remaining -= take;
    emit(take === chunk.length ? chunk : chunk.subarray(0, take));
    if (remaining === 0) finish();
  };

  onRead(onData);
  socket.on("error", (error) => {
    if (!done)
      payload.destroy(new Error(`connection to ${display} failed during the snapshot`, { cause: error }));
  });
  socket.on("close", () => {
    if (!done) {
      const expected = framing.length === null ? "" : ` of ${framing.length}`;
      payload.destroy(
        new Error(`${display} closed the connection after ${filler.received}${expected} snapshot bytes`),
      );
    }
  });
  socket.on("timeout", () => {
    if (!done) payload.destroy(new Error(`${display} stopped sending the snapshot (idle timeout)`));
  });
  if (framing.rest.length) onData(framing.rest);
  if (framing.length === 0 && !done) finish();
  return payload;
}
