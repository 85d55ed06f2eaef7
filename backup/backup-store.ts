/**
 * Where backups live. The interface is the small surface an object store also offers (put a stream, list,
 * get, delete), so an S3-compatible store can be added next to the directory one without touching the backup
 * or restore logic. Only the directory store exists today: S3 is deliberately not implemented yet.
 */
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DurableFileWriter } from "./durable-file-writer.ts";

export interface StoredObject {
  readonly name: string;
  readonly sizeBytes: number;
  readonly modifiedAt: Date;
}

export interface PutOptions {
  /** Called with each chunk of the body once the store is done with its bytes (the producer may reuse them). */
  readonly written?: (chunk: Buffer) => void;
}

export interface BackupStore {
  /** Human-readable location of an object (a path, later an s3:// URL); printed by the CLI. */
  locate(name: string): string;
  /**
   * Stores a stream under `name`, atomically: the object appears only once the whole stream was written,
   * made durable, and the stream ended without error (a verifying stream fails at its end if the data is bad).
   * On any failure nothing is left behind.
   */
  put(name: string, body: Readable, options?: PutOptions): Promise<StoredObject>;
  /** Objects whose names start with `prefix`; partial uploads are never listed. */
  list(prefix?: string): Promise<StoredObject[]>;
  get(name: string): Readable;
  delete(name: string): Promise<void>;
  /**
   * Removes partial uploads under `prefix` last written before `olderThan`: leftovers of runs that were killed
   * (OOM, node loss) and that would otherwise fill the volume. Object stores may leave this to lifecycle rules.
   */
  sweepPartials?(prefix: string, olderThan: Date): Promise<string[]>;
}

/** Partial files carry this suffix until renamed into place; list() ignores them. */
const PARTIAL_SUFFIX = ".partial";

export class DirectoryBackupStore implements BackupStore {
  readonly directory: string;

  constructor(directory: string) {
    this.directory = directory;
  }

  locate(name: string): string {
    return join(this.directory, checkedName(name));
  }

  async put(name: string, body: Readable, options: PutOptions = {}): Promise<StoredObject> {
    const path = this.locate(name);
    const partial = `${path}.${process.pid}${PARTIAL_SUFFIX}`;
    await mkdir(this.directory, { recursive: true });
    try {
      // The writer fsyncs before it finishes, so the rename below never publishes data only in page cache.
      await pipeline(body, new DurableFileWriter(partial, { written: options.written }));
      await rename(partial, path);
      await this.#syncDirectory();
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    const info = await stat(path);
    return { name, sizeBytes: info.size, modifiedAt: info.mtime };
  }

  async list(prefix = ""): Promise<StoredObject[]> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new Error(`cannot list backups in ${this.directory}`, { cause: error });
    }
    const objects: StoredObject[] = [];
    for (const name of names) {
      if (!name.startsWith(prefix) || name.endsWith(PARTIAL_SUFFIX)) continue;
      try {
        const info = await stat(join(this.directory, name));
        if (info.isFile()) objects.push({ name, sizeBytes: info.size, modifiedAt: info.mtime });
      } catch (error) {
        // Deleted between readdir and stat (a concurrent retention run): not an error.
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
    return objects.sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): Readable {
    return createReadStream(this.locate(name));
  }

  async delete(name: string): Promise<void> {
    await rm(this.locate(name), { force: true });
  }

  async sweepPartials(prefix: string, olderThan: Date): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    const swept: string[] = [];
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith(PARTIAL_SUFFIX)) continue;
      const path = join(this.directory, name);
      const info = await stat(path).catch(() => undefined);
      if (info?.isFile() && info.mtime < olderThan) {
        await rm(path, { force: true });
        swept.push(name);
      }
    }
    return swept;
  }

  /** fsync the directory so the rename itself survives a crash. */
  async #syncDirectory(): Promise<void> {
    const handle = await open(this.directory, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

/** Names are flat: a name with a path separator could escape the backup directory. */
function checkedName(name: string): string {
  if (!name || name.includes("/") || name.includes("\\") || name === "." || name === "..") {
    throw new Error(`invalid backup object name ${JSON.stringify(name)}`);
  }
  return name;
}
