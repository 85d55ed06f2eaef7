/**
 * Just enough RESP2 for backup and restore, on a raw socket we own: `SYNC` turns a client connection into a byte
 * stream that no Redis client library hands over, and the restore side has to speak as a server. Replies are
 * decoded as text (INFO, integers, OK); snapshot bytes never go through this parser.
 */
import { connect, type Socket } from "node:net";
import type { RedisTarget } from "./redis-url.ts";

export type RespValue = string | number | null | RespValue[];

/** An `-ERR ...` reply. */
export class RedisReplyError extends Error {}

const CRLF = Buffer.from("\r\n");

/** Encodes a command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return Buffer.from(parts.join(""));
}

interface Parsed {
  readonly value: RespValue | RedisReplyError;
  readonly end: number;
}

/** Parses one value starting at `start`; undefined when the buffer does not hold all of it yet. */
export function parseValue(buffer: Buffer, start: number): Parsed | undefined {
  const lineEnd = buffer.indexOf(CRLF, start);
  if (lineEnd === -1) return undefined;
  const line = buffer.toString("latin1", start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (buffer[start]) {
    case 0x2b: // +
      return { value: line, end: next };
    case 0x2d: // -
      return { value: new RedisReplyError(line), end: next };
    case 0x3a: // :
      return { value: Number(line), end: next };
    case 0x24: {
      // $
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString("utf8", next, next + length), end: next + length + 2 };
    }
    case 0x2a: {
      // *
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseValue(buffer, at);
        if (!item) return undefined;
        if (item.value instanceof RedisReplyError) throw item.value;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP type byte 0x${(buffer[start] ?? 0).toString(16)}`);
  }
}

/**
 * Parses one command sent to a server: a RESP array, or an inline command (a plain line). Empty inline lines
 * (the "\n" keepalives a loading replica sends) come back as an empty list.
 */
export function parseCommand(buffer: Buffer, start: number): { args: string[]; end: number } | undefined {
  if (start >= buffer.length) return undefined;
  if (buffer[start] === 0x2a) {
    const parsed = parseValue(buffer, start);
    if (!parsed) return undefined;
    const args = Array.isArray(parsed.value) ? parsed.value.map(String) : [];
    return { args, end: parsed.end };
  }
  const lineEnd = buffer.indexOf(0x0a, start);
  if (lineEnd === -1) return undefined;
  const line = buffer.toString("latin1", start, lineEnd).trim();
  return { args: line ? line.split(/\s+/) : [], end: lineEnd + 1 };
}

interface Pending {
  resolve(value: RespValue): void;
  reject(error: Error): void;
}

/**
 * Takes what one socket read brought. The bytes are a view of a buffer the next read overwrites: whatever is
 * kept past the call must be copied.
 */
export type ReadSink = (bytes: Buffer) => void;

/**
 * Socket reads land in one buffer per connection instead of a new one per read: a snapshot is hundreds of MB
 * in 9-64 KiB reads, each allocated read was garbage as soon as its bytes were copied into a payload block,
 * and the ones waiting for a collection stayed resident.
 */
const READ_BUFFER_BYTES = 64 << 10;

/** A client connection that sends commands one after another and can hand its socket over for raw reading. */
export class RespConnection {
  readonly socket: Socket;
  readonly #target: RedisTarget;
  readonly #timeoutMs: number;
  readonly #setSink: (sink: ReadSink) => void;
  #buffer: Buffer = Buffer.alloc(0);
  #pending: Pending[] = [];
  #failure: Error | undefined;

  private constructor(
    socket: Socket,
    setSink: (sink: ReadSink) => void,
    target: RedisTarget,
    timeoutMs: number,
  ) {
    this.socket = socket;
    this.#setSink = setSink;
    this.#target = target;
    this.#timeoutMs = timeoutMs;
    setSink((bytes) => this.#receive(Buffer.from(bytes)));
    socket.on("error", (error) =>
      this.#fail(new Error(`connection to ${target.display} failed`, { cause: error })),
    );
    socket.on("close", () => this.#fail(new Error(`${target.display} closed the connection`)));
  }

  /** Connects and authenticates (AUTH with the URL's user and password, if it has them). */
  static async open(target: RedisTarget, timeoutMs = 10_000): Promise<RespConnection> {
    let sink: ReadSink = () => {};
    const socket = connect({
      host: target.host,
      port: target.port,
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
        callback: (length, buffer) => {
          sink(Buffer.from(buffer.buffer, buffer.byteOffset, length));
          return true;
        },
      },
    });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`could not connect to ${target.display} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve();
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(new Error(`could not connect to ${target.display}`, { cause: error }));
      });
    });
    const connection = new RespConnection(socket, (next) => (sink = next), target, timeoutMs);
    if (target.password !== undefined) {
      const args = target.username ? [target.username, target.password] : [target.password];
      try {
        await connection.command("AUTH", ...args);
      } catch (error) {
        connection.close();
        // The reply names no secret, but the command did: say what failed, not what was sent.
        throw new Error(`authentication to ${target.display} failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    return connection;
  }

  command(...args: string[]): Promise<RespValue> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<RespValue>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(
          new Error(`${this.#target.display} did not answer ${args[0]} within ${this.#timeoutMs} ms`),
        );
      }, this.#timeoutMs);
      this.#pending.push({
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.socket.write(encodeCommand(args));
    });
  }

  /** `INFO <section>` as a map of its `field:value` lines. */
  async info(section: string): Promise<Map<string, string>> {
    const text = String(await this.command("INFO", section));
    const fields = new Map<string, string>();
    for (const line of text.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0 && !line.startsWith("#")) fields.set(line.slice(0, colon), line.slice(colon + 1));
    }
    return fields;
  }

  /**
   * Stops parsing replies and returns the socket with any bytes already read, for a caller that reads the rest
   * of the stream itself (the RDB payload after `SYNC`). The socket emits no `data` events: reads go to the
   * sink given to `onRead` (until then they are dropped, so pause the socket or set a sink before resuming).
   */
  detach(): { socket: Socket; pending: Buffer; onRead: (sink: ReadSink) => void } {
    this.#setSink(() => {});
    this.socket.removeAllListeners("close");
    this.socket.removeAllListeners("error");
    const pending = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    return { socket: this.socket, pending, onRead: this.#setSink };
  }

  close(): void {
    this.socket.destroy();
  }

  #receive(chunk: Buffer): void {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    let at = 0;
    try {
      while (at < this.#buffer.length && this.#pending.length > 0) {
        const parsed = parseValue(this.#buffer, at);
        if (!parsed) break;
        at = parsed.end;
        const waiter = this.#pending.shift()!;
        if (parsed.value instanceof RedisReplyError) waiter.reject(parsed.value);
        else waiter.resolve(parsed.value);
      }
    } catch (error) {
      this.#fail(new Error(`unreadable reply from ${this.#target.display}`, { cause: error }));
      return;
    }
    this.#buffer = this.#buffer.subarray(at);
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiter of this.#pending.splice(0)) waiter.reject(error);
    this.socket.destroy();
  }
}
