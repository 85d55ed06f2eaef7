/**
 * The rendered Redis container's start command and readiness probe, run as the container runs them: by a real
 * `sh` and the real `redis-server`/`redis-cli`, with the password in a file as the Secret volume mounts it. Only
 * the paths and the port are moved to a temp dir (no container here; test/cluster/node runs the same on a node).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { parse } from "yaml";
import { tenantObjects } from "../../charts-src/charts/tenant-chart.ts";
import { resolvePlatform, resolveTenant } from "../../charts-src/model/resolve.ts";
import type { PlatformFile, TenantFile } from "../../charts-src/model/tenant-schema.ts";
import { freePort } from "../support/redis-server.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const read = (file: string) => parse(readFileSync(new URL(`../../tenants/${file}`, import.meta.url), "utf8"));
const platformFile = read("_platform.yaml") as PlatformFile;
const objects = tenantObjects(
  resolveTenant(read("acme.yaml") as TenantFile, platformFile),
  resolvePlatform(platformFile),
) as Json[];
const container = objects.find((o) => o.kind === "StatefulSet")!.spec.template.spec.containers[0];
const conf = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "acme-redis-config")!.data[
  "redis.conf"
] as string;

const PASSWORD = "Zx9_-correct-horse-battery-staple-0123456789";
let work: string;
let port: number;
let passwordFile: string;

/** The rendered script with the container's paths moved into `work`. */
function local(script: string): string {
  return script
    .replaceAll("/etc/redis/redis.conf", join(work, "redis.conf"))
    .replaceAll("/etc/redis-auth/password", passwordFile)
    .replaceAll("-p 6379", `-p ${port}`);
}

function startRedis(file: string) {
  const [sh, flag, script, ...args] = container.command as string[];
  expect(args).toEqual(["/etc/redis-auth/password"]);
  const child = spawn(sh!, [flag!, local(script!), file], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

/** One inline command over a plain TCP connection, no AUTH; the first reply line. */
function rawCommand(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(`${command}\r\n`));
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString());
    });
    socket.once("error", reject);
  });
}

async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "nl-redis-start-"));
  port = await freePort();
  passwordFile = join(work, "password");
  writeFileSync(
    join(work, "redis.conf"),
    conf
      .replace("port 6379", `port ${port}`)
      .replace("bind * -::*", "bind 127.0.0.1")
      .replace("dir /data", `dir ${work}`),
  );
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the rendered Redis start command", () => {
  it("starts Redis with the file's password: unauthenticated clients refused, none on its command line", async () => {
    // As `kubectl create secret --from-file` of a file written by echo: a trailing newline, not part of it.
    writeFileSync(passwordFile, `${PASSWORD}\n`);
    const redis = startRedis(passwordFile);
    try {
      // A client that sends no password, over a plain socket (what any neighbour could do).
      const refusal = await until(() => rawCommand("PING"), "Redis to answer a PING");
      expect(refusal).toBe("-NOAUTH Authentication required.\r\n");

      const client = new Redis({ port, password: PASSWORD, maxRetriesPerRequest: 0 });
      expect(await client.ping()).toBe("PONG");
      expect(await client.config("GET", "protected-mode")).toEqual(["protected-mode", "yes"]);
      client.disconnect();

      // `exec`: the shell became redis-server, which rewrote its title; the password is not on its command line.
      const cmdline = readFileSync(`/proc/${redis.child.pid}/cmdline`, "utf8");
      expect(cmdline).toContain("redis-server");
      expect(cmdline).not.toContain(PASSWORD);

      // The readiness probe: ready with the file, not ready with a wrong one.
      const probe = local(container.readinessProbe.exec.command[2]);
      expect(spawnSync("sh", ["-c", probe]).status).toBe(0);
      writeFileSync(passwordFile, "wrong-password\n");
      expect(spawnSync("sh", ["-c", probe]).status).not.toBe(0);
    } finally {
      redis.child.kill("SIGTERM");
      await redis.exited;
    }
  });

  it("reads a file without a trailing newline", async () => {
    writeFileSync(passwordFile, PASSWORD);
    const redis = startRedis(passwordFile);
    try {
      const client = new Redis({ port, password: PASSWORD, lazyConnect: true, maxRetriesPerRequest: 0 });
      client.on("error", () => {}); // refused while Redis starts: `until` retries
      expect(await until(() => client.connect().then(() => client.ping()), "an authenticated PING")).toBe(
        "PONG",
      );
      client.disconnect();
    } finally {
      redis.child.kill("SIGTERM");
      await redis.exited;
    }
  });

  it("refuses to start without a password: an empty or missing file stops it, naming the file", async () => {
    writeFileSync(passwordFile, "");
    const empty = startRedis(passwordFile);
    expect(await empty.exited).toBe(1);
    expect(empty.stderr()).toContain(`redis: no password in ${passwordFile}`);

    const missing = startRedis(join(work, "absent"));
    expect(await missing.exited).toBe(1);
    expect(missing.stderr()).toContain("redis: no password in");
  });
});
