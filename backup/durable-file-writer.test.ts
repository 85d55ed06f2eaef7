import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DurableFileWriter } from "./durable-file-writer.ts";

const openFds = async (): Promise<number> => (await readdir("/proc/self/fd")).length;

describe("DurableFileWriter", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "nl-durable-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes every byte in order, flushing to disk in the background as it goes, and hands each chunk back", async () => {
    const data = randomBytes(5 * 2 ** 20 + 123);
    const chunks: Buffer[] = [];
    for (let at = 0, size = 1; at < data.length; at += size, size = (size * 31 + 7) % 300_000) {
      chunks.push(data.subarray(at, at + size));
    }
    const path = join(dir, "snapshot.rdb");
    const written: Buffer[] = [];
    const writer = new DurableFileWriter(path, {
      flushEveryBytes: 2 ** 20,
      written: (chunk) => written.push(chunk),
    });
    await pipeline(Readable.from(chunks), writer);
    expect((await readFile(path)).equals(data)).toBe(true);
    // Each chunk is handed back once its bytes are in the file, for its producer to reuse.
    expect(written).toEqual(chunks);
    // About one per MiB (chunks of up to 300 KB overshoot each mark a little).
    expect(writer.backgroundFlushes).toBeGreaterThanOrEqual(4);
    expect((await stat(path)).mode & 0o777).toBe(0o640);
  });

  it("never overwrites an existing file", async () => {
    const path = join(dir, "snapshot.rdb");
    await writeFile(path, "older backup");
    expect(() => new DurableFileWriter(path)).toThrow(/EEXIST/);
    expect(await readFile(path, "utf8")).toBe("older backup");
  });

  it("closes the file when the stream fails midway, also with a flush in flight", async () => {
    const before = await openFds();
    const source = new Readable({ read() {} });
    const writer = new DurableFileWriter(join(dir, "snapshot.rdb"), { flushEveryBytes: 1 });
    const done = pipeline(source, writer);
    source.push(randomBytes(1000));
    await new Promise((resolve) => setImmediate(resolve));
    source.destroy(new Error("connection lost"));
    await expect(done).rejects.toThrow(/connection lost/);
    expect(writer.backgroundFlushes).toBe(1);
    expect(await openFds()).toBe(before);
  });
});
