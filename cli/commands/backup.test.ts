/**
 * `neurallog backup` and `neurallog restore` as the tenant CronJob and an operator run them: the real bin
 * (`node bin/neurallog.ts`) in a child process against a real redis-server.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { BACKUP_DIR, backupCommand } from "../../charts-src/constructs/backup.ts";
import { redisClientEnv } from "../../charts-src/constructs/redis.ts";
import { resolveTenant } from "../../charts-src/model/resolve.ts";
import { REDIS_PASSWORD_FILE, REDIS_PASSWORD_FILE_ENV } from "../../contracts/redis-password.ts";
import { freePort, startRedisServer, type RedisServerHandle } from "../../test/support/redis-server.ts";

const BIN = new URL("../../bin/neurallog.ts", import.meta.url).pathname;
const PASSWORD = "cron-job-pw-7f3a";

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function neurallog(args: string[], env: Record<string, string | undefined> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const childEnv = { ...process.env, ...env };
    if (!("REDIS_URL" in env)) delete childEnv.REDIS_URL;
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: childEnv, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

const lastLine = (text: string): string => text.trimEnd().split("\n").at(-1) ?? "";

describe("neurallog backup / restore CLI", () => {
  let source: RedisServerHandle;
  let target: RedisServerHandle;
  let dir: string;
  let url: string;

  beforeAll(async () => {
    [source, target] = await Promise.all([
      startRedisServer({ args: ["--requirepass", PASSWORD, "--repl-diskless-sync-delay", "0"] }),
      startRedisServer(),
    ]);
    url = `redis://:${PASSWORD}@127.0.0.1:${source.port}`;
    const client = new Redis(url);
    await client.mset("{acme}:a", "1", "{acme}:b", "2");
    await client.xadd("{acme}:logs", "*", "msg", "hello");
    client.disconnect();
    dir = await mkdtemp(join(tmpdir(), "nl-backup-cli-"));
  });
  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("accepts the tenant CronJob's exact arguments, prints the file last, and applies retention", async () => {
    const dest = join(dir, "cron");
    const cronArgs = [
      "backup",
      "--redis-url",
      url,
      "--dest",
      dest,
      "--tenant",
      "acme",
      "--keep",
      "2",
      "--max-age",
      "14d",
    ];
    const paths: string[] = [];
    for (let i = 0; i < 3; i++) {
      const outcome = await neurallog(cronArgs);
      expect(outcome.stderr).toBe("");
      expect(outcome.code).toBe(0);
      expect(outcome.stdout + outcome.stderr).not.toContain(PASSWORD);
      paths.push(lastLine(outcome.stdout));
    }
    for (const path of paths)
      expect(path).toMatch(new RegExp(`^${dest}/acme-\\d{8}T\\d{6}\\.\\d{3}Z\\.rdb$`));
    const left = (await readdir(dest)).sort();
    expect(left).toEqual(
      [paths[1]!, paths[2]!]
        .flatMap((p) => [p, p.replace(/\.rdb$/, ".json")].map((f) => f.slice(dest.length + 1)))
        .sort(),
    );
    const manifest = JSON.parse(await readFile(paths[2]!.replace(/\.rdb$/, ".json"), "utf8"));
    expect(manifest).toMatchObject({
      tenant: "acme",
      keys: 3,
      keysExact: true,
      source: `redis://127.0.0.1:${source.port}`,
    });
  });

  it("runs the command line synth renders into the acme CronJob, with the env and password file the pod has", async () => {
    const tenants = new URL("../../tenants/", import.meta.url).pathname;
    const tenant = resolveTenant(
      parse(await readFile(join(tenants, "acme.yaml"), "utf8")),
      parse(await readFile(join(tenants, "_platform.yaml"), "utf8")),
    );
    const dest = join(dir, "synth");
    const command = backupCommand(tenant);
    // The URL (and any password in it) never appears in the process arguments.
    expect(command.join(" ")).not.toMatch(/redis:|REDIS_URL/);
    const [program, ...args] = command.map((arg) => (arg === BACKUP_DIR ? dest : arg));
    expect(program).toBe("neurallog");
    // The pod's env, with the Service's host moved to the local Redis and the mounted file to a temp one.
    const passwordFile = join(dir, "password");
    await writeFile(passwordFile, `${PASSWORD}\n`);
    const env = Object.fromEntries(redisClientEnv(tenant).map((e) => [e.name, e.value!]));
    expect(env.REDIS_URL).toBe("redis://acme-redis:6379");
    const outcome = await neurallog(args, {
      REDIS_URL: env.REDIS_URL!.replace("acme-redis:6379", `127.0.0.1:${source.port}`),
      [REDIS_PASSWORD_FILE_ENV]:
        env[REDIS_PASSWORD_FILE_ENV] === REDIS_PASSWORD_FILE ? passwordFile : "unexpected",
    });
    expect(outcome.stderr).toBe("");
    expect(outcome.code).toBe(0);
    expect(lastLine(outcome.stdout)).toMatch(new RegExp(`^${dest}/acme-.*\\.rdb$`));
  });

  it("reads REDIS_URL when --redis-url is omitted, and leaves its result in the termination message", async () => {
    const terminationLog = join(dir, "termination-log");
    await writeFile(terminationLog, ""); // the kubelet creates it empty
    const outcome = await neurallog(["backup", "--dest", join(dir, "env"), "--tenant", "acme"], {
      REDIS_URL: url,
      NEURALLOG_TERMINATION_LOG: terminationLog,
    });
    expect(outcome.code).toBe(0);
    const path = lastLine(outcome.stdout);
    expect(path).toMatch(/acme-.*\.rdb$/);
    const manifest = JSON.parse(await readFile(path.replace(/\.rdb$/, ".json"), "utf8"));
    expect(JSON.parse(await readFile(terminationLog, "utf8"))).toEqual({
      snapshot: manifest.snapshot,
      takenAt: manifest.takenAt,
      sizeBytes: manifest.sizeBytes,
      keys: 3,
      sha256: manifest.sha256,
    });
  });

  it("rejects bad arguments with a usage message and exit code 1, without touching anything", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["backup", "--redis-url", url], /--dest is required/],
      [["backup", "--dest", dir], /--redis-url is required \(or set REDIS_URL\)/],
      [["backup", "--redis-url", url, "--dest", dir, "--keep", "0"], /--keep must be a whole number/],
      [["backup", "--redis-url", url, "--dest", dir, "--max-age", "2 weeks"], /invalid duration "2 weeks"/],
      [["backup", "--redis-url", url, "--dest", dir, "--tenant", "Acme_Corp"], /invalid tenant name/],
      [["backup", "--redis-url", url, "--dest", dir, "--schedule", "x"], /Unknown option '--schedule'/],
      [["backup", "--redis-url", "http://example.com", "--dest", dir], /must start with redis:\/\//],
      [["restore", "--redis-url", url], /--from is required/],
    ];
    const unreadable = await neurallog(
      ["backup", "--redis-url", `redis://127.0.0.1:${source.port}`, "--dest", dir],
      {
        [REDIS_PASSWORD_FILE_ENV]: join(dir, "no-such-password"),
      },
    );
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr).toContain(
      `REDIS_PASSWORD_FILE: cannot read ${join(dir, "no-such-password")} (ENOENT)`,
    );
    const outcomes = await Promise.all(cases.map(([args]) => neurallog(args)));
    for (const [index, [args, message]] of cases.entries()) {
      const outcome = outcomes[index]!;
      expect(outcome.code, args.join(" ")).toBe(1);
      expect(outcome.stderr).toMatch(message);
      expect(outcome.stderr).not.toContain(PASSWORD);
    }
  });

  it("lists backups newest first with their keys and state, and exits 1 when none is good", async () => {
    const dest = join(dir, "listed");
    const first = lastLine(
      (await neurallog(["backup", "--redis-url", url, "--dest", dest, "--tenant", "acme"])).stdout,
    );
    const second = lastLine(
      (await neurallog(["backup", "--redis-url", url, "--dest", dest, "--tenant", "acme"])).stdout,
    );
    // A snapshot whose manifest is gone (a run that died before writing it) is listed, and not good.
    await rm(first.replace(/\.rdb$/, ".json"));
    const listed = await neurallog(["backups", "--dest", dest, "--tenant", "acme"]);
    expect(listed.code, listed.stderr).toBe(0);
    const lines = listed.stdout.trimEnd().split("\n");
    expect(lines.map((l) => [l.split("  ")[0], l.split("  ").at(-1)])).toEqual([
      [basename(second), "good"],
      [basename(first), "no manifest"],
    ]);
    expect(lines[0]).toMatch(/ \d+ bytes {2}3 keys {2}good$/);

    const none = await neurallog(["backups", "--dest", join(dir, "empty"), "--tenant", "acme"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no good backup of acme in /);
  });

  it("reports a wrong password without printing it", async () => {
    const wrong = `redis://:not-the-${PASSWORD}@127.0.0.1:${source.port}`;
    const outcome = await neurallog(["backup", "--redis-url", wrong, "--dest", join(dir, "wrong")]);
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(/authentication to redis:\/\/127\.0\.0\.1:\d+ failed/);
    expect(outcome.stderr).not.toContain(PASSWORD);
  });

  it("restores a backup into another Redis, and refuses a corrupted one saying nothing was restored", async () => {
    const backup = await neurallog([
      "backup",
      "--redis-url",
      url,
      "--dest",
      join(dir, "restore"),
      "--tenant",
      "acme",
    ]);
    const file = lastLine(backup.stdout);
    const port = String(await freePort());
    const restored = await neurallog(
      ["restore", "--from", file, "--advertise-host", "127.0.0.1", "--listen-port", port, "--timeout", "2m"],
      { REDIS_URL: target.url },
    );
    expect(restored.stderr).toBe("");
    expect(restored.code).toBe(0);
    expect(restored.stdout).toContain(`is syncing from 127.0.0.1:${port}`);
    expect(lastLine(restored.stdout)).toMatch(/^restored .* db0=3/);
    const client = new Redis(target.url);
    try {
      expect(await client.get("{acme}:b")).toBe("2");
      const bytes = await readFile(file);
      bytes[bytes.length - 20]! ^= 0xff;
      await writeFile(file, bytes);
      await client.set("{acme}:b", "changed-after-restore");
      const refused = await neurallog(["restore", "--redis-url", target.url, "--from", file]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/refused, nothing was restored: .* CRC-64 mismatch/);
      expect(await client.get("{acme}:b")).toBe("changed-after-restore");
    } finally {
      client.disconnect();
    }
  });

  it("refuses a snapshot holding a Lua function library unless --allow-functions is given", async () => {
    const withLibrary = await startRedisServer({ args: ["--repl-diskless-sync-delay", "0"] });
    const client = new Redis(withLibrary.url);
    const into = new Redis(target.url);
    try {
      await client.call(
        "FUNCTION",
        "LOAD",
        "#!lua name=cli_lib\nredis.register_function('cli_hello', function() return 'hi' end)",
      );
      const backup = await neurallog([
        "backup",
        "--redis-url",
        withLibrary.url,
        "--dest",
        join(dir, "functions"),
      ]);
      const file = lastLine(backup.stdout);
      const args = ["restore", "--redis-url", target.url, "--from", file, "--advertise-host", "127.0.0.1"];
      const refused = await neurallog(args);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /refused, nothing was restored: the snapshot holds 1 Lua function library .* pass --allow-functions/,
      );
      expect(await into.call("FUNCTION", "LIST")).toEqual([]);
      const allowed = await neurallog([...args, "--allow-functions"]);
      expect(allowed.stderr).toBe("");
      expect(allowed.code).toBe(0);
      expect(await into.call("FCALL", "cli_hello", "0")).toBe("hi");
    } finally {
      client.disconnect();
      into.disconnect();
      await withLibrary.stop();
    }
  });
});
