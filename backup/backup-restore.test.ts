/**
 * Backup and restore against real redis-server processes: both SYNC framings, the file checked by Redis's own
 * `redis-check-rdb`, a restore into a fresh Redis compared with DEBUG DIGEST (keys, values, types, TTLs), and
 * damaged files refused with the target left exactly as it was.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startRedisServer, type RedisServerHandle } from "../test/support/redis-server.ts";
import { DirectoryBackupStore } from "./backup-store.ts";
import { Crc64 } from "./crc64.ts";
import {
  maxLoadableRdbVersion,
  restoreSnapshot,
  RestoreNotPromotedError,
  RestoreRefusedError,
} from "./restore-snapshot.ts";
import { startSnapshotMaster } from "./snapshot-master.ts";
import { openSnapshot, PAYLOAD_BLOCK_BYTES } from "./snapshot-source.ts";
import { parseRedisUrl } from "./redis-url.ts";
import { takeBackup } from "./take-backup.ts";

const run = promisify(execFile);
const DEBUG = ["--enable-debug-command", "yes"];
const PASSWORD = "s3cret-backup-pw";

/** Every value type the NeuralLog server stores, plus expiring keys and a second database. */
async function fillDataset(url: string): Promise<void> {
  const client = new Redis(url);
  try {
    const pipeline = client.pipeline();
    for (let i = 0; i < 300; i++) {
      pipeline.set(`{acme}:str:${i}`, `value-${i}-${"x".repeat(i % 50)}`);
      pipeline.hset(`{acme}:hash:${i % 20}`, `field-${i}`, `${i}`);
      pipeline.sadd(`{acme}:set:${i % 10}`, `member-${i}`);
      pipeline.zadd(`{acme}:zset:${i % 10}`, i * 1.5, `member-${i}`);
      pipeline.rpush(`{acme}:list:${i % 5}`, `item-${i}`);
      pipeline.xadd("{acme}:logs", "*", "level", i % 7 ? "info" : "error", "msg", `line ${i}`);
    }
    pipeline.set("{acme}:big", "y".repeat(100_000)); // LZF-compressed in the RDB
    for (let i = 0; i < 50; i++) pipeline.set(`{acme}:ttl:${i}`, "soon", "EX", 3600 + i);
    pipeline.hset("{acme}:ttl-hash", "a", "1");
    pipeline.pexpire("{acme}:ttl-hash", 7_200_000);
    pipeline.xgroup("CREATE", "{acme}:logs", "actions", "0");
    pipeline.xreadgroup("GROUP", "actions", "worker-1", "COUNT", "10", "STREAMS", "{acme}:logs", ">");
    await pipeline.exec();
    await client.select(3);
    await client.set("other-db-key", "v");
  } finally {
    client.disconnect();
  }
}

async function digest(url: string): Promise<string> {
  const client = new Redis(url);
  try {
    return String(await client.call("DEBUG", "DIGEST"));
  } finally {
    client.disconnect();
  }
}

async function redisCheckRdb(file: string): Promise<string> {
  const { stdout } = await run("redis-check-rdb", [file]);
  return stdout;
}

describe("backup and restore against real Redis", () => {
  let diskSource: RedisServerHandle;
  let disklessSource: RedisServerHandle;
  let dir: string;
  const targets: RedisServerHandle[] = [];

  beforeAll(async () => {
    [diskSource, disklessSource] = await Promise.all([
      startRedisServer({ args: [...DEBUG, "--repl-diskless-sync", "no"] }),
      startRedisServer({
        args: [
          ...DEBUG,
          "--repl-diskless-sync",
          "yes",
          "--repl-diskless-sync-delay",
          "0",
          "--requirepass",
          PASSWORD,
        ],
      }),
    ]);
    await fillDataset(diskSource.url);
    await fillDataset(`redis://:${PASSWORD}@127.0.0.1:${disklessSource.port}`);
  });
  afterAll(async () => {
    await Promise.all([diskSource?.stop(), disklessSource?.stop(), ...targets.map((t) => t.stop())]);
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "nl-backup-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function freshTarget(args: readonly string[] = []): Promise<RedisServerHandle> {
    const target = await startRedisServer({ args: [...DEBUG, ...args] });
    targets.push(target);
    return target;
  }

  it("disk-backed sync ($<length> framing): a valid RDB, a true manifest, and an exact restore", async () => {
    const store = new DirectoryBackupStore(dir);
    const result = await takeBackup({ target: parseRedisUrl(diskSource.url), store, tenant: "acme" });

    expect(result.location).toMatch(new RegExp(`^${dir}/acme-\\d{8}T\\d{6}\\.\\d{3}Z\\.rdb$`));
    expect(await redisCheckRdb(result.location)).toMatch(/RDB looks OK/);
    const file = await readFile(result.location);
    const manifest = JSON.parse(await readFile(result.location.replace(/\.rdb$/, ".json"), "utf8"));
    expect(manifest).toMatchObject({
      tenant: "acme",
      snapshot: basename(result.location),
      sizeBytes: file.length,
      rdbVersion: 10,
      redisVersion: expect.stringMatching(/^\d+\.\d+\.\d+$/),
      framing: "length",
      keyspace: { db0: 398, db3: 1 },
      firstDatabase: { db: 0, keys: 398 },
      keys: 399,
      keysExact: false, // two databases: the total comes from INFO keyspace
      source: diskSource.url,
    });
    const { createHash } = await import("node:crypto");
    expect(manifest.sha256).toBe(createHash("sha256").update(file).digest("hex"));

    const target = await freshTarget();
    const restored = await restoreSnapshot({
      target: parseRedisUrl(target.url),
      store,
      name: basename(result.location),
    });
    expect(Object.fromEntries(restored.keyspace)).toEqual({ 0: 398, 3: 1 });
    expect(await digest(target.url)).toBe(await digest(diskSource.url));
    const client = new Redis(target.url);
    try {
      expect(await client.call("ROLE")).toEqual(["master", 0, []]);
      expect(await client.ttl("{acme}:ttl:7")).toBeGreaterThan(3000);
      expect(await client.xinfo("GROUPS", "{acme}:logs")).toHaveLength(1);
      await client.set("writable-after-restore", "1"); // promoted back: accepts writes
    } finally {
      client.disconnect();
    }
  });

  it("diskless sync ($EOF:<mark> framing) with a password: same data, and the password is written nowhere", async () => {
    const url = `redis://:${PASSWORD}@127.0.0.1:${disklessSource.port}`;
    const store = new DirectoryBackupStore(dir);
    const result = await takeBackup({ target: parseRedisUrl(url), store, tenant: "acme" });
    expect(result.manifest.framing).toBe("eof-mark");
    expect(await redisCheckRdb(result.location)).toMatch(/RDB looks OK/);
    for (const name of await readdir(dir))
      expect(await readFile(join(dir, name), "latin1")).not.toContain(PASSWORD);

    const target = await freshTarget(["--masterauth", "the-targets-own"]);
    await restoreSnapshot({ target: parseRedisUrl(target.url), store, name: basename(result.location) });
    expect(await digest(target.url)).toBe(await digest(url));
    const client = new Redis(target.url);
    try {
      // the one-time password the restore gave it is gone again
      expect(await client.config("GET", "masterauth")).toEqual(["masterauth", "the-targets-own"]);
    } finally {
      client.disconnect();
    }
  });

  it("a single-database snapshot records the exact key count from the RDB itself", async () => {
    const source = await freshTarget(["--repl-diskless-sync-delay", "0"]);
    const client = new Redis(source.url);
    await client.mset("a", "1", "b", "2", "c", "3");
    client.disconnect();
    const store = new DirectoryBackupStore(dir);
    const result = await takeBackup({ target: parseRedisUrl(source.url), store });
    expect(basename(result.location)).toMatch(/^redis-/);
    expect(result.manifest).toMatchObject({ tenant: null, keys: 3, keysExact: true });
  });

  it("restores into a Redis with appendonly yes (as tenants run it), and the data survives its restart", async () => {
    const store = new DirectoryBackupStore(dir);
    const result = await takeBackup({ target: parseRedisUrl(diskSource.url), store, tenant: "acme" });
    const dataDir = await mkdtemp(join(tmpdir(), "nl-aof-"));
    const args = [...DEBUG, "--appendonly", "yes"];
    let target = await startRedisServer({ dir: dataDir, args });
    try {
      await restoreSnapshot({ target: parseRedisUrl(target.url), store, name: basename(result.location) });
      const port = target.port;
      await target.stop(); // SIGTERM: a clean shutdown, the way a pod restarts
      target = await startRedisServer({ dir: dataDir, port, args });
      expect(await digest(target.url)).toBe(await digest(diskSource.url));
    } finally {
      await target.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  describe("a damaged snapshot is refused and the target keeps its data", () => {
    let goodFile: string;
    let target: RedisServerHandle;
    let before: string;

    beforeEach(async () => {
      const store = new DirectoryBackupStore(dir);
      goodFile = (await takeBackup({ target: parseRedisUrl(diskSource.url), store, tenant: "acme" }))
        .location;
      target ??= await freshTarget(["--enable-protected-configs", "yes"]);
      const client = new Redis(target.url);
      await client.set("precious", "do-not-lose");
      client.disconnect();
      before = await digest(target.url);
    });

    async function expectRefused(file: string, message: RegExp): Promise<void> {
      const store = new DirectoryBackupStore(join(file, ".."));
      await expect(
        restoreSnapshot({ target: parseRedisUrl(target.url), store, name: basename(file) }),
      ).rejects.toThrow(message);
      await expect(
        restoreSnapshot({ target: parseRedisUrl(target.url), store, name: basename(file) }),
      ).rejects.toBeInstanceOf(RestoreRefusedError);
      expect(await digest(target.url)).toBe(before);
      const client = new Redis(target.url);
      try {
        expect(await client.get("precious")).toBe("do-not-lose");
        expect((await client.call("ROLE")) as unknown[]).toContain("master");
      } finally {
        client.disconnect();
      }
    }

    it("truncated (no manifest next to it)", async () => {
      const damaged = join(dir, "cut", "truncated.rdb");
      await run("mkdir", ["-p", join(dir, "cut")]);
      await copyFile(goodFile, damaged);
      await truncate(damaged, 5000);
      await expectRefused(damaged, /failed verification: CRC-64 mismatch/);
    });

    it("one flipped byte (manifest next to it)", async () => {
      const bytes = await readFile(goodFile);
      bytes[Math.floor(bytes.length / 2)]! ^= 0x20;
      await writeFile(goodFile, bytes);
      await expectRefused(goodFile, /failed verification: CRC-64 mismatch/);
    });

    it("intact, but from a newer Redis than the target can load", async () => {
      const good = await readFile(goodFile);
      const content = Buffer.concat([Buffer.from("REDIS0099"), good.subarray(9, -8)]);
      const future = join(dir, "future", "future.rdb");
      await run("mkdir", ["-p", join(dir, "future")]);
      await writeFile(future, Buffer.concat([content, new Crc64().update(content).digestBytes()]));
      await expectRefused(future, /loads RDB versions up to 10; the snapshot is version 99/);
    });

    it("into a Redis that is a replica", async () => {
      const client = new Redis(target.url);
      try {
        await client.call("REPLICAOF", "127.0.0.1", String(diskSource.port));
        await expect(
          restoreSnapshot({
            target: parseRedisUrl(target.url),
            store: new DirectoryBackupStore(dir),
            name: basename(goodFile),
          }),
        ).rejects.toThrow(/is a replica of 127\.0\.0\.1:\d+; restore into its primary/);
      } finally {
        await client.call("REPLICAOF", "NO", "ONE");
        client.disconnect();
      }
    });

    it("a transfer the target cannot store (its data directory is gone) fails fast, old data intact", async () => {
      const client = new Redis(target.url);
      const doomed = await mkdtemp(join(tmpdir(), "nl-doomed-"));
      try {
        await client.config("SET", "dir", doomed);
        await rm(doomed, { recursive: true });
        const store = new DirectoryBackupStore(dir);
        await expect(
          restoreSnapshot({
            target: parseRedisUrl(target.url),
            store,
            name: basename(goodFile),
            timeoutMs: 60_000,
          }),
        ).rejects.toThrow(/the target abandoned the transfer and reconnected/);
        expect(await client.get("precious")).toBe("do-not-lose");
        expect(await digest(target.url)).toBe(before);
        expect(((await client.call("ROLE")) as unknown[])[0]).toBe("master");
      } finally {
        await client.config("SET", "dir", target.dir);
        client.disconnect();
      }
    });

    it("intact RDB whose manifest records another key count (checked before the target is touched)", async () => {
      const manifestFile = goodFile.replace(/\.rdb$/, ".json");
      const manifest = JSON.parse(await readFile(manifestFile, "utf8"));
      expect(manifest.firstDatabase).toEqual({ db: 0, keys: 398 });
      await writeFile(manifestFile, JSON.stringify({ ...manifest, firstDatabase: { db: 0, keys: 397 } }));
      await expectRefused(
        goodFile,
        /does not match its manifest: the manifest says db0 holds 397 keys, the snapshot records 398 keys in db0/,
      );
    });

    it("a restore user that may not run CONFIG is refused before anything is started", async () => {
      const client = new Redis(target.url);
      try {
        await client.call("ACL", "SETUSER", "no-config", "on", ">pw", "~*", "&*", "+@all", "-config");
        const url = `redis://no-config:pw@127.0.0.1:${target.port}`;
        const restore = restoreSnapshot({
          target: parseRedisUrl(url),
          store: new DirectoryBackupStore(dir),
          name: basename(goodFile),
        });
        await expect(restore).rejects.toBeInstanceOf(RestoreRefusedError);
        await expect(restore).rejects.toThrow(
          /refused CONFIG GET masterauth \(NOPERM.*\): the restore needs CONFIG/,
        );
        expect(await digest(target.url)).toBe(before);
        expect(((await client.call("ROLE")) as unknown[])[0]).toBe("master");
      } finally {
        await client.call("ACL", "DELUSER", "no-config");
        client.disconnect();
      }
    });

    it("intact RDB that is not the one its manifest describes", async () => {
      const manifestFile = goodFile.replace(/\.rdb$/, ".json");
      const manifest = JSON.parse(await readFile(manifestFile, "utf8"));
      await writeFile(manifestFile, JSON.stringify({ ...manifest, sha256: "f".repeat(64) }));
      await expectRefused(goodFile, /does not match its manifest/);
    });
  });
});

describe("what a restore checks beyond the file's integrity", () => {
  let dir: string;
  const servers: RedisServerHandle[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "nl-restore-"));
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  });
  async function redis(args: readonly string[] = []): Promise<RedisServerHandle> {
    // no diskless-sync delay: a backup starts at once
    const server = await startRedisServer({ args: [...DEBUG, "--repl-diskless-sync-delay", "0", ...args] });
    servers.push(server);
    return server;
  }
  async function withClient<T>(url: string, use: (client: Redis) => Promise<T>): Promise<T> {
    const client = new Redis(url);
    try {
      return await use(client);
    } finally {
      client.disconnect();
    }
  }
  /** A target holding one key of its own, the data a failed restore must not lose. */
  async function targetWithData(): Promise<RedisServerHandle> {
    const target = await redis();
    await withClient(target.url, (c) => c.set("precious", "do-not-lose"));
    return target;
  }

  it("a load whose key count differs from the snapshot's is not promoted: the target stays a read-only replica", async () => {
    const source = await redis();
    await withClient(source.url, (c) => c.mset("k1", "1", "k2", "2", "k3", "3", "k4", "4", "k5", "5"));
    const { location } = await takeBackup({
      target: parseRedisUrl(source.url),
      store: new DirectoryBackupStore(dir),
    });
    // The RDB's own record of db0's size says 6 while it holds 5 keys; CRC recomputed, no manifest: the file
    // passes every check made before loading, and only the loaded target shows the difference.
    const bytes = await readFile(location);
    const record = Buffer.from([0xfe, 0x00, 0xfb, 0x05]);
    const at = bytes.indexOf(record);
    expect(at).toBeGreaterThan(0);
    expect(bytes.lastIndexOf(record)).toBe(at);
    bytes[at + 3] = 0x06;
    const content = bytes.subarray(0, -8);
    const lying = join(dir, "lying", "lying.rdb");
    await run("mkdir", ["-p", join(dir, "lying")]);
    await writeFile(lying, Buffer.concat([content, new Crc64().update(content).digestBytes()]));

    const target = await targetWithData();
    const restore = restoreSnapshot({
      target: parseRedisUrl(target.url),
      store: new DirectoryBackupStore(join(dir, "lying")),
      name: "lying.rdb",
    });
    await expect(restore).rejects.toBeInstanceOf(RestoreNotPromotedError);
    await expect(restore).rejects.toThrow(
      /restored db0 holds 5 keys; the snapshot has 6\. .* was NOT promoted: it holds what it loaded .* read-only replica/,
    );
    await withClient(target.url, async (client) => {
      expect(((await client.call("ROLE")) as unknown[])[0]).toBe("slave");
      await expect(client.set("written-after", "1")).rejects.toThrow(/READONLY/);
      // what it holds: the loaded snapshot, its own key replaced by the load
      expect(await client.dbsize()).toBe(5);
      expect(await client.get("precious")).toBeNull();
    });
  });

  describe("Lua function libraries", () => {
    let store: DirectoryBackupStore;
    let name: string;
    beforeEach(async () => {
      const source = await redis();
      await withClient(source.url, async (client) => {
        await client.call(
          "FUNCTION",
          "LOAD",
          "#!lua name=from_backup\nredis.register_function('hello', function() return 'from the backup' end)",
        );
        await client.set("a", "1");
      });
      store = new DirectoryBackupStore(dir);
      name = basename((await takeBackup({ target: parseRedisUrl(source.url), store })).location);
    });

    it("a snapshot holding a library is refused without allowFunctions, the target untouched", async () => {
      const target = await targetWithData();
      const before = await digest(target.url);
      const restore = restoreSnapshot({ target: parseRedisUrl(target.url), store, name });
      await expect(restore).rejects.toBeInstanceOf(RestoreRefusedError);
      await expect(restore).rejects.toThrow(
        /the snapshot holds 1 Lua function library \(code that would run inside the target\); pass --allow-functions/,
      );
      expect(await digest(target.url)).toBe(before);
      await withClient(target.url, async (client) => {
        expect(await client.call("FUNCTION", "LIST")).toEqual([]);
        expect(((await client.call("ROLE")) as unknown[])[0]).toBe("master");
      });
    });

    it("with allowFunctions the library comes along and runs", async () => {
      const target = await targetWithData();
      await restoreSnapshot({ target: parseRedisUrl(target.url), store, name, allowFunctions: true });
      await withClient(target.url, async (client) => {
        expect(await client.call("FCALL", "hello", "0")).toBe("from the backup");
        expect(await client.get("a")).toBe("1");
        expect(((await client.call("ROLE")) as unknown[])[0]).toBe("master");
      });
    });
  });

  describe("the snapshot master serves only the target it was started for", () => {
    let file: string;
    let sizeBytes: number;
    let sha256: string;
    beforeEach(async () => {
      const source = await redis();
      await withClient(source.url, (c) => c.mset("secret:1", "tenant data", "secret:2", "more"));
      const result = await takeBackup({
        target: parseRedisUrl(source.url),
        store: new DirectoryBackupStore(dir),
      });
      file = result.location;
      ({ sizeBytes, sha256 } = result.manifest);
    });

    async function master(password: string, refused: string[]) {
      return startSnapshotMaster({
        host: "127.0.0.1",
        port: 0,
        sizeBytes,
        sha256,
        open: () => createReadStream(file),
        password,
        onRefused: (peer, reason) => refused.push(`${peer} ${reason}`),
      });
    }

    async function waitFor(condition: () => Promise<boolean> | boolean, what: string): Promise<void> {
      const deadline = Date.now() + 30_000;
      while (!(await condition())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }

    it("redis-cli --rdb without the password, or with a wrong one, gets no snapshot", async () => {
      const refused: string[] = [];
      const served = await master(randomBytes(32).toString("hex"), refused);
      try {
        for (const auth of [[], ["-a", "guessed", "--no-auth-warning"]]) {
          const out = join(dir, `stolen-${auth.length}.rdb`);
          const attempt = run("redis-cli", [
            "-h",
            "127.0.0.1",
            "-p",
            String(served.port),
            ...auth,
            "--rdb",
            out,
          ]);
          await expect(attempt).rejects.toThrow();
          await expect(readFile(out)).rejects.toThrow(/ENOENT/);
        }
        expect(refused).toEqual([
          expect.stringMatching(/^127\.0\.0\.1:\d+ sent REPLCONF without authenticating$/),
          expect.stringMatching(/^127\.0\.0\.1:\d+ gave a wrong password$/),
        ]);
      } finally {
        await served.close();
      }
    });

    it("a foreign redis-server told REPLICAOF it is refused and keeps its data; the target with the password is served", async () => {
      const refused: string[] = [];
      const password = randomBytes(32).toString("hex");
      const served = await master(password, refused);
      const foreign = await redis();
      const impostor = await redis(["--masterauth", "not-the-one"]);
      const genuine = await redis(["--masterauth", password]);
      try {
        for (const replica of [foreign, impostor]) {
          await withClient(replica.url, async (client) => {
            await client.set("own", "data");
            await client.call("REPLICAOF", "127.0.0.1", String(served.port));
          });
        }
        await waitFor(
          () =>
            refused.some((r) => r.endsWith("without authenticating")) &&
            refused.some((r) => r.endsWith("wrong password")),
          "both replicas to be refused",
        );
        await withClient(genuine.url, (c) => c.call("REPLICAOF", "127.0.0.1", String(served.port)));
        await waitFor(
          () => withClient(genuine.url, async (c) => (await c.get("secret:1")) === "tenant data"),
          "the genuine target to load the snapshot",
        );
        for (const replica of [foreign, impostor]) {
          await withClient(replica.url, async (client) => {
            expect(await client.get("own")).toBe("data");
            expect(await client.get("secret:1")).toBeNull();
            expect((await client.info("replication")).match(/master_link_status:(\w+)/)?.[1]).toBe("down");
          });
        }
        // the refused ones did not use up the session, nor fail the restore
        const outcome = await Promise.race([served.failed, Promise.resolve("not failed")]);
        expect(outcome).toBe("not failed");
      } finally {
        for (const replica of [foreign, impostor, genuine])
          await withClient(replica.url, (c) => c.call("REPLICAOF", "NO", "ONE"));
        await served.close();
      }
    });
  });
});

describe("maxLoadableRdbVersion", () => {
  it("knows which RDB versions each Redis release loads, and defers to Redis for releases it does not know", () => {
    expect(maxLoadableRdbVersion("6.2.14")).toBe(9);
    expect(maxLoadableRdbVersion("7.0.15")).toBe(10);
    expect(maxLoadableRdbVersion("7.2.4")).toBe(11);
    expect(maxLoadableRdbVersion("7.4.1")).toBe(12);
    expect(maxLoadableRdbVersion("8.0.2")).toBeNull();
  });
});

describe("snapshot reading from a connection that misbehaves", () => {
  let server: Server | undefined;
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "nl-backup-"));
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  /** A socket server that answers INFO/REPLCONF like Redis and then sends `payload` in reply to SYNC. */
  async function fakeSyncServer(payload: Buffer[]): Promise<string> {
    server = createServer((socket) => {
      socket.on("data", (data) => {
        const text = data.toString("latin1");
        if (text.includes("INFO")) {
          const body = "# Server\r\nredis_version:7.0.15\r\n";
          socket.write(`$${body.length}\r\n${body}\r\n`);
        } else if (text.includes("REPLCONF")) socket.write("+OK\r\n");
        else if (text.startsWith("SYNC")) {
          for (const part of payload) socket.write(part);
          socket.end();
        }
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", () => resolve()));
    const address = server.address();
    return `redis://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  }

  it("hands the payload on in whole blocks, whatever the socket reads, in both framings, reusing blocks given back", async () => {
    const content = randomBytes(4 * PAYLOAD_BLOCK_BYTES + 1000);
    /** The content in uneven pieces, as Redis' fork trickles it out. */
    const pieces = (bytes: Buffer): Buffer[] => {
      const out: Buffer[] = [];
      for (let at = 0, size = 1; at < bytes.length; at += size, size = (size * 13 + 5) % 20_000) {
        out.push(bytes.subarray(at, at + size));
      }
      return out;
    };
    const mark = Buffer.from("0123456789abcdef0123456789abcdef01234567");
    for (const reply of [
      [Buffer.from(`$${content.length}\r\n`), ...pieces(content)],
      // The end mark split across the last two writes.
      [Buffer.from(`$EOF:${mark.toString("latin1")}\r\n`), ...pieces(Buffer.concat([content, mark]))],
    ]) {
      const url = await fakeSyncServer(reply);
      const snapshot = await openSnapshot(parseRedisUrl(url));
      const blocks: Buffer[] = [];
      const distinct = new Set<Buffer>();
      snapshot.payload.on("data", (block: Buffer) => {
        blocks.push(Buffer.from(block));
        distinct.add(block);
        snapshot.reuse(block); // as the file writer does once the bytes are written
      });
      await new Promise((resolve) => snapshot.payload.on("end", resolve));
      expect(blocks.map((block) => block.length)).toEqual([...Array(4).fill(PAYLOAD_BLOCK_BYTES), 1000]);
      expect(Buffer.concat(blocks).equals(content)).toBe(true);
      // A block given back carries the next bytes instead of a new allocation (the last one is a view of it).
      expect(distinct.size).toBeLessThan(blocks.length);
      await new Promise<void>((resolve) => server!.close(() => resolve()));
      server = undefined;
    }
  });

  it("skips keepalive newlines, then fails on a payload cut short and leaves no file behind", async () => {
    const url = await fakeSyncServer([
      Buffer.from("\n\n\n"),
      Buffer.from("$1000\r\nREDIS0010"),
      Buffer.alloc(100),
    ]);
    await expect(
      takeBackup({ target: parseRedisUrl(url), store: new DirectoryBackupStore(dir) }),
    ).rejects.toThrow(/closed the connection after 109 of 1000 snapshot bytes/);
    expect(await readdir(dir)).toEqual([]);
  });

  it("refuses a complete transfer whose content is not a valid RDB", async () => {
    const junk = Buffer.alloc(64, 7);
    const url = await fakeSyncServer([Buffer.from(`\n$${junk.length}\r\n`), junk]);
    await expect(
      takeBackup({ target: parseRedisUrl(url), store: new DirectoryBackupStore(dir) }),
    ).rejects.toThrow(/not an RDB file/);
    expect(await readdir(dir)).toEqual([]);
  });

  it("reports the error Redis gives to SYNC", async () => {
    const url = await fakeSyncServer([
      Buffer.from("-NOPERM this user has no permissions to run the 'sync' command\r\n"),
    ]);
    await expect(
      takeBackup({ target: parseRedisUrl(url), store: new DirectoryBackupStore(dir) }),
    ).rejects.toThrow(/refused SYNC: NOPERM/);
  });
});
