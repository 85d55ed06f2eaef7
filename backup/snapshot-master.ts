/**
 * A one-shot replication master that serves a snapshot file. The Redis being restored is told
 * `REPLICAOF <us>`; it connects here, does the replica handshake (PING, REPLCONF, PSYNC), and we answer
 * `+FULLRESYNC` followed by the file in `$<length>` framing: exactly what a real master sends. The target then
 * loads it the way it loads any full sync, which is all-or-nothing: with the default `repl-diskless-load
 * disabled` it first stores the whole transfer in a temp file and only flushes its old data once the transfer
 * is complete, so a transfer we cut short leaves the target's data untouched.
 *
 * The file was verified before we got here; it is verified again while it is sent, and its last 8 bytes
 * (the CRC) are held back until that second pass agrees, so a file that changed in between is never completed.
 *
 * Only the target gets the snapshot: the restore gives it a one-time password (its `masterauth`), and a
 * connection that does not `AUTH` with it first is answered `-NOAUTH`/`-WRONGPASS` and closed, without a byte of
 * the file and without using up the one replication session. The password, not the peer address, is what binds
 * us to the target: in a cluster we reach the target through its Service address, while it connects from its pod
 * address, and a port on a shared node can be reached from anything that runs there.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { RdbInspector, RdbVerificationError } from "./rdb-inspector.ts";
import { parseCommand } from "./resp.ts";

const TRAILER = 8;

export interface SnapshotMasterOptions {
  /** Address to listen on: the address the target reaches us at. */
  readonly host: string;
  /** Port to listen on; 0 picks a free one. */
  readonly port: number;
  readonly sizeBytes: number;
  /** SHA-256 of the file when it was verified; the replay must match it. */
  readonly sha256: string;
  /** Opens the snapshot file for reading from the start. */
  readonly open: () => Readable;
  /** The one-time password the target was given as its `masterauth`; nothing is served without it. */
  readonly password: string;
  /** Told about each connection that was refused (no or a wrong password), with its peer address. */
  readonly onRefused?: (peer: string, reason: string) => void;
}

export interface SnapshotMaster {
  readonly host: string;
  readonly port: number;
  /**
   * Resolves with the reason if the transfer failed: serving broke off, or the target connected again, which a
   * replica only does after giving up on a sync (e.g. it could not write its temp file). Never rejects.
   */
  readonly failed: Promise<Error>;
  close(): Promise<void>;
}

export async function startSnapshotMaster(options: SnapshotMasterOptions): Promise<SnapshotMaster> {
  let fail!: (error: Error) => void;
  const failed = new Promise<Error>((resolve) => (fail = resolve));
  const sockets = new Set<Socket>();
  let sessions = 0;

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    const peer = `${(socket.remoteAddress ?? "?").replace(/^::ffff:/, "")}:${socket.remotePort ?? "?"}`;
    // One replication session only, counted from a successful AUTH: a second one means the target abandoned
    // the first sync (only the target knows the password).
    const claimSession = (): boolean => {
      if (sessions++ === 0) return true;
      socket.end("-ERR this restore has already served its snapshot\r\n");
      fail(
        new Error(
          "the target abandoned the transfer and reconnected; its log says why (disk space or permissions of its data directory?)",
        ),
      );
      return false;
    };
    const refuse = (reply: string, reason: string): void => {
      socket.end(reply);
      options.onRefused?.(peer, reason);
    };
    serveReplica(socket, options, claimSession, refuse).catch((error: Error) => {
      socket.destroy();
      fail(error);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) =>
      reject(new Error(`cannot listen on ${options.host}:${options.port}`, { cause: error })),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;

  const keepalive = setInterval(() => {
    // A master pings its replicas; without it a replica drops the link after repl-timeout (60 s by default).
    for (const socket of sockets) if (socket.writable) socket.write("*1\r\n$4\r\nPING\r\n");
  }, 10_000);

  return {
    host: options.host,
    port,
    failed,
    async close() {
      clearInterval(keepalive);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** What an unauthenticated peer may send before we hang up on it (AUTH with a password fits many times). */
const UNAUTHENTICATED_LIMIT = 4096;

const digestOf = (text: string): Buffer => createHash("sha256").update(text).digest();

/** Constant-time, so the reply time says nothing about how much of a guess was right. */
function passwordMatches(given: string | undefined, expected: string): boolean {
  return given !== undefined && timingSafeEqual(digestOf(given), digestOf(expected));
}

/**
 * Runs the replica handshake on one connection and streams the snapshot after PSYNC/SYNC. Resolves without
 * serving anything when the connection is refused (it is not the target); rejects when the target's own
 * session fails.
 */
function serveReplica(
  socket: Socket,
  options: SnapshotMasterOptions,
  claimSession: () => boolean,
  refuse: (reply: string, reason: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffer: Buffer = Buffer.alloc(0);
    let authenticated = false;
    let streaming = false;
    let closed = false;
    const hangUp = (reply: string, reason: string): void => {
      closed = true;
      refuse(reply, reason);
    };
    socket.on("close", () => {
      if (!authenticated) resolve();
      else if (!streaming)
        reject(new Error("the target closed the replication connection before asking for a sync"));
    });
    socket.on("data", (chunk: Buffer) => {
      if (closed) return;
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      if (!authenticated && buffer.length > UNAUTHENTICATED_LIMIT) {
        hangUp("-ERR too much data before AUTH\r\n", "sent too much before authenticating");
        return;
      }
      let at = 0;
      for (;;) {
        let parsed;
        try {
          parsed = parseCommand(buffer, at);
        } catch (error) {
          if (!authenticated) hangUp("-ERR unreadable command\r\n", "sent an unreadable command");
          else reject(new Error("the target sent an unreadable command", { cause: error }));
          return;
        }
        if (!parsed) break;
        at = parsed.end;
        if (streaming) continue; // REPLCONF ACKs and newlines after the sync: nothing to answer
        const name = (parsed.args[0] ?? "").toUpperCase();
        if (name === "") continue;
        if (!authenticated) {
          // A replica with masterauth sends PING (and accepts -NOAUTH to it, as from a real master), then AUTH.
          if (name === "PING") socket.write("-NOAUTH Authentication required.\r\n");
          else if (name !== "AUTH") {
            hangUp("-NOAUTH Authentication required.\r\n", `sent ${name} without authenticating`);
            return;
          } else if (parsed.args.length > 3 || !passwordMatches(parsed.args.at(-1), options.password)) {
            hangUp("-WRONGPASS invalid username-password pair\r\n", "gave a wrong password");
            return;
          } else {
            authenticated = true;
            if (!claimSession()) {
              closed = true;
              return;
            }
            socket.write("+OK\r\n");
          }
          continue;
        }
        if (name === "PING") socket.write("+PONG\r\n");
        else if (name === "AUTH" || name === "REPLCONF") socket.write("+OK\r\n");
        else if (name === "PSYNC" || name === "SYNC") {
          streaming = true;
          const replicationId = randomBytes(20).toString("hex");
          if (name === "PSYNC") socket.write(`+FULLRESYNC ${replicationId} 0\r\n`);
          socket.write(`$${options.sizeBytes}\r\n`);
          const replay = new VerifiedReplay(options.sha256);
          pipeline(options.open(), replay, socket, { end: false }).then(resolve, (error: Error) =>
            reject(new Error(`serving the snapshot failed: ${error.message}`, { cause: error })),
          );
        } else socket.write(`-ERR ${name} is not served by a restore\r\n`);
      }
      buffer = buffer.subarray(at);
    });
  });
}

/** Passes the file through, withholding its last 8 bytes until a second verification pass agrees. */
class VerifiedReplay extends Transform {
  readonly #inspector = new RdbInspector();
  readonly #sha256: string;
  #tail: Buffer = Buffer.alloc(0);

  constructor(sha256: string) {
    super();
    this.#sha256 = sha256;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#inspector.update(chunk);
    if (chunk.length >= TRAILER) {
      if (this.#tail.length) this.push(this.#tail);
      this.#tail = chunk.subarray(chunk.length - TRAILER);
      callback(null, chunk.subarray(0, chunk.length - TRAILER));
      return;
    }
    const joined = Buffer.concat([this.#tail, chunk]);
    const cut = Math.max(0, joined.length - TRAILER);
    this.#tail = joined.subarray(cut);
    callback(null, joined.subarray(0, cut));
  }

  override _flush(callback: TransformCallback): void {
    try {
      const summary = this.#inspector.finish();
      if (summary.sha256 !== this.#sha256) {
        throw new RdbVerificationError(
          "the file changed after it was verified; the transfer was not completed",
        );
      }
      callback(null, this.#tail);
    } catch (error) {
      callback(error as Error);
    }
  }
}
