/**
 * The image `npm run image` builds, run under podman as the rendered pods run it (podman.ts): the digest pinned
 * in tenants/_platform.yaml is the one the build produces; every command a rendered pod runs starts; the server
 * gets ready and ingests and queries through a real Redis; the root file system is read-only and /tmp is the only
 * writable path; `neurallog backup` writes a verified RDB to a mounted directory and `restore` loads it into a
 * fresh Redis (same DEBUG DIGEST).
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { API_KEYS, INGEST_KEY, READ_KEY } from "../ingest/harness.ts";
import { freePort, startRedisServer, type RedisServerHandle } from "../support/redis-server.ts";
import {
  configMapData,
  podman,
  podmanRunArgs,
  renderedNeurallogContainers,
  renderedPod,
  ROOT,
  startContainer,
  waitFor,
} from "./podman.ts";

const image = inject("neurallogImage");
const platform = parse(readFileSync(path.join(ROOT, "tenants/_platform.yaml"), "utf8")) as {
  spec: { images: { server: string } };
};
const pinned = platform.spec.images.server;
const run = `nl-image-${process.pid}`;
const scratch = mkdtempSync(path.join(tmpdir(), "nl-image-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A directory the container's user (10001) can write: podman maps no ids, so ownership is the host's. */
function hostDir(name: string, mode = 0o755): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir, { recursive: true });
  spawnSync("chown", ["10001:10001", dir]);
  chmodSync(dir, mode);
  return dir;
}

/** The tenant's Redis password Secret as the kubelet mounts it: a directory holding the file `password`. */
const REDIS_PASSWORD = "image-test-redis-password-0123456789";
function passwordDir(name: string): string {
  const dir = hostDir(name);
  writeFileSync(path.join(dir, "password"), `${REDIS_PASSWORD}\n`);
  chmodSync(path.join(dir, "password"), 0o644);
  return dir;
}

describe("the pinned image", () => {
  it("is the image this checkout builds (tenants/_platform.yaml pins the digest npm run image printed)", () => {
    const digest = pinned.split("@")[1];
    expect(digest, `re-pin with: npm run image -- --pin (and commit the pin)`).toBe(
      inject("neurallogLayoutDigest"),
    );
  });
});

describe("every rendered command starts in the image", () => {
  const containers = renderedNeurallogContainers(pinned);
  const subcommands = [...new Set(containers.map(({ container }) => container.command[1]!))].sort();

  it("renders server, controller and backup with this image", () => {
    expect(subcommands).toEqual(["backup", "controller", "server"]);
  });

  // restore is the runbook's command (docs/runbooks), run by an operator in the same image.
  for (const sub of [...subcommands, "restore"]) {
    it(`neurallog ${sub} --help`, () => {
      const { pod, container } = containers.find((c) => c.container.command[1] === sub) ?? containers[0]!;
      const volumes = Object.fromEntries(
        (container.volumeMounts ?? []).map((m) => [m.name, hostDir(`help-${sub}-${m.name}`)]),
      );
      const r = podman(
        podmanRunArgs(image, pod, container, { name: `${run}-help-${sub}`, volumes, args: [sub, "--help"] }),
      );
      expect(r.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|not found/);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: neurallog ${sub}`));
    });
  }
});

describe("the server, as the rendered Deployment runs it", () => {
  const pod = renderedPod("Deployment", "acme-server");
  const container = pod.containers.find((c) => c.name === "server")!;
  let redisServer: RedisServerHandle;
  let server: ReturnType<typeof startContainer>;
  let url: string;

  beforeAll(async () => {
    redisServer = await startRedisServer({ args: ["--requirepass", REDIS_PASSWORD] });
    const config = hostDir("server-config");
    writeFileSync(path.join(config, "rules.json"), configMapData("acme-server-config")["rules.json"]!);
    const keys = hostDir("server-keys");
    writeFileSync(path.join(keys, "api-keys.json"), API_KEYS);
    chmodSync(path.join(keys, "api-keys.json"), 0o644);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    server = startContainer(
      podmanRunArgs(image, pod, container, {
        name: `${run}-server`,
        // REDIS_URL without the password, as rendered: the server reads it from the mounted file.
        volumes: { config, "api-keys": keys, "redis-auth": passwordDir("server-auth") },
        env: { PORT: String(port), HOST: "127.0.0.1", REDIS_URL: redisServer.url },
      }),
    );
    await waitFor("/readyz answers 200", async () => (await fetch(`${url}/readyz`)).ok, server);
  });
  afterAll(async () => {
    server?.stop();
    await redisServer?.stop();
  });

  it("ingests a batch and answers a query for it from the real Redis", async () => {
    const marker = `image-test-${Date.now()}`;
    const body = [1, 2, 3].map((i) => JSON.stringify({ msg: `${marker} ${i}`, level: "info" })).join("\n");
    const ingest = await fetch(`${url}/api/v1/logs`, {
      method: "POST",
      headers: { authorization: `Bearer ${INGEST_KEY}`, "content-type": "application/x-ndjson" },
      body,
    });
    expect(ingest.status).toBe(200);
    const query = await fetch(`${url}/api/v1/logs?limit=100`, {
      headers: { authorization: `Bearer ${READ_KEY}` },
    });
    expect(query.status).toBe(200);
    const { entries } = (await query.json()) as { entries: unknown[] };
    const found = entries.map((e) => JSON.stringify(e)).filter((e) => e.includes(marker));
    expect(found).toHaveLength(3);
    const redis = new Redis(redisServer.url, { password: REDIS_PASSWORD });
    try {
      expect((await redis.keys("*acme*")).length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });

  it("runs as 10001 on a read-only root; /tmp is the only writable path", () => {
    const probe = [
      "const fs = require('node:fs');",
      "const can = (p) => { try { fs.writeFileSync(p, 'x'); fs.rmSync(p); return true; } catch (e) { return e.code; } };",
      "console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(),",
      "  app: can('/app/x'), root: can('/x'), etc: can('/etc/x'), usr: can('/usr/local/bin/x'), tmp: can('/tmp/x') }));",
    ].join("\n");
    const args = podmanRunArgs(image, pod, container, {
      name: `${run}-probe`,
      volumes: {
        config: hostDir("probe-config"),
        "api-keys": hostDir("probe-keys"),
        "redis-auth": passwordDir("probe-auth"),
      },
    });
    // Same settings, another program: node instead of `neurallog server`.
    const at = args.indexOf("--entrypoint");
    args.splice(at, args.length - at, "--entrypoint", "node", image, "-e", probe);
    const r = podman(args);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      uid: 10001,
      gid: 10001,
      app: "EROFS",
      root: "EROFS",
      etc: "EROFS",
      usr: "EROFS",
      tmp: true,
    });
  });
});

describe("backup and restore, as the rendered CronJob and the runbook run them", () => {
  const pod = renderedPod("CronJob", "acme-backup");
  const container = pod.containers.find((c) => c.name === "backup")!;
  let source: RedisServerHandle;
  let target: RedisServerHandle;

  beforeAll(async () => {
    const args = ["--enable-debug-command", "local", "--requirepass", REDIS_PASSWORD];
    source = await startRedisServer({ args });
    target = await startRedisServer({ args });
  });
  afterAll(async () => {
    await source?.stop();
    await target?.stop();
  });

  it("backup writes a verified RDB and its manifest to the mounted directory; restore brings a fresh Redis to the same DEBUG DIGEST", async () => {
    const redis = new Redis(source.url, { password: REDIS_PASSWORD });
    const fresh = new Redis(target.url, { password: REDIS_PASSWORD });
    try {
      for (let i = 0; i < 200; i++) await redis.set(`acme:key:${i}`, `value ${i}`);
      await redis.xadd("acme:stream", "*", "msg", "hello");
      const digest = await redis.call("DEBUG", "DIGEST");

      const backups = hostDir("backups");
      const auth = passwordDir("backup-auth");
      const mount = container.volumeMounts!.find((m) => m.mountPath === "/backups")!;
      const backup = podman(
        podmanRunArgs(image, pod, container, {
          name: `${run}-backup`,
          volumes: { [mount.name]: backups, "redis-auth": auth },
          env: { REDIS_URL: source.url },
        }),
      );
      expect(backup.status, backup.stderr + backup.stdout).toBe(0);
      const location = backup.stdout.trim().split("\n").at(-1)!;
      expect(location).toMatch(/^\/backups\/acme-.*\.rdb$/);
      const file = path.join(backups, path.basename(location));
      expect(readFileSync(file).subarray(0, 5).toString()).toBe("REDIS");
      expect(readdirSync(backups)).toContain(`${path.basename(location, ".rdb")}.json`);
      const check = spawnSync("redis-check-rdb", [file], { encoding: "utf8" });
      expect(check.status, check.stdout).toBe(0);

      // The runbook's restore: the same image, the backup volume mounted, the target Redis's URL.
      const restore = podman([
        ...podmanRunArgs(image, pod, container, {
          name: `${run}-restore`,
          volumes: { [mount.name]: backups, "redis-auth": auth },
          args: ["restore", "--redis-url", target.url, "--from", location],
        }),
      ]);
      expect(restore.status, restore.stderr + restore.stdout).toBe(0);
      expect(await fresh.call("DEBUG", "DIGEST")).toBe(digest);
      expect(await fresh.dbsize()).toBe(201);
    } finally {
      redis.disconnect();
      fresh.disconnect();
    }
  });
});

describe("the test Redis image, as the rendered StatefulSet runs it", () => {
  const pod = renderedPod("StatefulSet", "acme-redis");
  const container = pod.containers.find((c) => c.name === "redis")!;
  let redis: ReturnType<typeof startContainer>;
  const name = `${run}-redis`;

  beforeAll(() => {
    const config = hostDir("redis-config");
    writeFileSync(path.join(config, "redis.conf"), configMapData("acme-redis-config")["redis.conf"]!);
    chmodSync(path.join(config, "redis.conf"), 0o644);
    const data = hostDir("redis-data");
    spawnSync("chown", [`${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`, data]);
    // Its own network namespace: redis.conf binds every interface (NetworkPolicies guard it in a cluster).
    redis = startContainer(
      podmanRunArgs(inject("redisImage"), pod, container, {
        name,
        network: "none",
        volumes: { data, config, "redis-auth": passwordDir("redis-auth") },
      }),
    );
  });
  afterAll(() => redis?.stop());

  it("answers its rendered readiness probe and appends what it is sent to the AOF on its data volume", async () => {
    const probe = container.readinessProbe!.exec!.command;
    await waitFor(
      "the readiness probe passes",
      async () => podman(["exec", name, ...probe]).status === 0,
      redis,
    );
    // Without the password Redis answers nothing but NOAUTH; with it (REDISCLI_AUTH, as the probe does) it works.
    const anonymous = podman(["exec", name, "redis-cli", "-p", "6379", "PING"]);
    expect(anonymous.stdout.trim()).toMatch(/^NOAUTH Authentication required/);
    const cli = ["exec", "-e", `REDISCLI_AUTH=${REDIS_PASSWORD}`, name, "redis-cli", "-p", "6379"];
    const set = podman([...cli, "SET", "image-test", "kept"]);
    expect(set.stdout.trim()).toBe("OK");
    await waitFor("the AOF holds the write", async () =>
      readdirSync(path.join(scratch, "redis-data"), { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".aof"))
        .some((f) => readFileSync(path.join(scratch, "redis-data", f), "utf8").includes("image-test")),
    );
    const id = podman([...cli, "INFO", "server"]);
    expect(id.stdout).toMatch(/redis_version:7\./);
  });
});
