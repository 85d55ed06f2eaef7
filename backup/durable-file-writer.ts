/**
 * Writes a stream into a new file (`wx`: an existing file is an error) and finishes only once the file is on
 * disk (fsync), which is what the directory store needs before it renames a snapshot into place.
 *
 * Two choices made for speed, both measured with `npm run bench:backup` and perf (issue 12 item 13):
 *   - writes are synchronous, from the thread that just received and checked the bytes. An `fs.WriteStream`
 *     hands each write to the libuv pool: with socket-sized chunks that was 32,000 hand-offs (two context
 *     switches each) per 300 MB, CPU taken from Redis' forked child on a 2-core machine; with 1 MiB blocks the
 *     pool thread's page-cache copy alone took 0.45 s of the backup's 2.2 s of CPU;
 *   - every `flushEveryBytes` a `fdatasync` runs in the background, so the disk takes the snapshot while it is
 *     still arriving and the final fsync waits for the last few MiB only, not the whole file (redis-cli --rdb
 *     waits ~0.3 s for 300 MB there).
 */
import { close, fdatasync, fsync, openSync, writeSync } from "node:fs";
import { Writable } from "node:stream";
import { promisify } from "node:util";

const fsyncFd = promisify(fsync);
const fdatasyncFd = promisify(fdatasync);
const closeFd = promisify(close);

export interface DurableFileWriterOptions {
  /** Bytes written between two background flushes. Default 16 MiB. */
  readonly flushEveryBytes?: number;
  /** File mode of the new file. Default 0o640. */
  readonly mode?: number;
  /** Called with each chunk once its bytes are in the file, so its producer may reuse the memory. */
  readonly written?: (chunk: Buffer) => void;
}

export class DurableFileWriter extends Writable {
  readonly #fd: number;
  readonly #flushEvery: number;
  readonly #written: ((chunk: Buffer) => void) | undefined;
  #unflushed = 0;
  /** The background flushes, chained; the fd is closed only after the last settled. */
  #flushing: Promise<void> = Promise.resolve();
  #flushError: Error | undefined;
  #closed = false;
  /** Background flushes started so far (not counting the final fsync). */
  backgroundFlushes = 0;

  /** Opens (creates) the file at once, so a name that exists fails here rather than mid-stream. */
  constructor(path: string, options: DurableFileWriterOptions = {}) {
    super({ highWaterMark: 1 << 20 });
    this.#flushEvery = options.flushEveryBytes ?? 16 << 20;
    this.#written = options.written;
    this.#fd = openSync(path, "wx", options.mode ?? 0o640);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      if (this.#flushError) throw this.#flushError;
      for (let at = 0; at < chunk.length;) at += writeSync(this.#fd, chunk, at);
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.#written?.(chunk);
    this.#unflushed += chunk.length;
    if (this.#unflushed >= this.#flushEvery) this.#flushInBackground();
    callback();
  }

  #flushInBackground(): void {
    this.#unflushed = 0;
    this.backgroundFlushes++;
    this.#flushing = this.#flushing.then(async () => {
      if (this.#flushError || this.#closed) return;
      try {
        await fdatasyncFd(this.#fd);
      } catch (error) {
        // Reported by the next write or by the end of the stream.
        this.#flushError = new Error("flushing the file to disk failed", { cause: error });
      }
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#flushing
      .then(async () => {
        if (this.#flushError) throw this.#flushError;
        await fsyncFd(this.#fd);
      })
      .then(
        () => this.#close(callback),
        (error: Error) => this.#close(() => callback(error)),
      );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    void this.#flushing.then(() => this.#close((closeError) => callback(error ?? closeError)));
  }

  #close(callback: (error?: Error | null) => void): void {
    if (this.#closed) {
      callback();
      return;
    }
    this.#closed = true;
    closeFd(this.#fd).then(
      () => callback(),
      (error: Error) => callback(error),
    );
  }
}
