/**
 * Teardown without a cluster: small stand-in processes recorded in a run directory the same way the control
 * plane's are, so "no process or port left behind" is checked in a second, not only by the cluster suite.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { freePort } from "../support/redis-server.ts";
import {
  anyProcessRunning,
  leftBehind,
  pidsFile,
  restartProcess,
  startProcess,
  startWatchdog,
  stopProcessGroups,
} from "./process-groups.ts";

const runDirs: string[] = [];
const strays: ChildProcess[] = [];

function newRunDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "nl-pg-test-"));
  mkdirSync(join(dir, "logs"));
  writeFileSync(pidsFile(dir), "");
  runDirs.push(dir);
  return dir;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A group leader like etcd: listens on a loopback port, has a child of its own, and names the run dir. */
function startListener(runDir: string, port: number) {
  const script = `require("net").createServer().listen(${port}, "127.0.0.1");
    require("child_process").spawn("sleep", ["300"], { stdio: "ignore" });
    setInterval(() => {}, 1000);`;
  return startProcess(runDir, "listener", process.execPath, ["-e", script, runDir]);
}

afterEach(async () => {
  for (const child of strays.splice(0)) child.kill("SIGKILL");
  for (const dir of runDirs.splice(0)) {
    await stopProcessGroups(dir, 1_000);
    await rm(dir, { recursive: true, force: true });
  }
});

describe("process groups of a run directory", () => {
  it("stopProcessGroups ends each recorded group with its children and frees its port", async () => {
    const runDir = newRunDir();
    const port = await freePort();
    const leader = startListener(runDir, port);
    await vi.waitFor(async () => expect(await listening(port)).toBe(true), { timeout: 5_000, interval: 50 });
    expect(anyProcessRunning(runDir)).toBe(true);

    expect(await stopProcessGroups(runDir)).toEqual([]);
    expect(alive(leader.pid)).toBe(false);
    expect(() => process.kill(-leader.pid, 0)).toThrow(); // the whole group, the sleep child too
    expect(await listening(port)).toBe(false);
    expect(anyProcessRunning(runDir)).toBe(false);
  });

  it("the watchdog tears the run down when its owner dies without doing so", async () => {
    const runDir = newRunDir();
    const port = await freePort();
    const leader = startListener(runDir, port);
    const owner = spawn("sleep", ["300"], { stdio: "ignore" });
    strays.push(owner);
    startWatchdog(runDir, owner.pid!);
    await vi.waitFor(async () => expect(await listening(port)).toBe(true), { timeout: 5_000, interval: 50 });

    owner.kill("SIGKILL");
    await vi.waitFor(() => expect(existsSync(runDir)).toBe(false), { timeout: 15_000, interval: 100 });
    expect(alive(leader.pid)).toBe(false);
    expect(await listening(port)).toBe(false);
  });

  it("leftBehind names a group still running and a port still taken, and nothing once they are gone", async () => {
    const runDir = newRunDir();
    const port = await freePort();
    const leader = startListener(runDir, port);
    await vi.waitFor(async () => expect(await listening(port)).toBe(true), { timeout: 5_000, interval: 50 });
    expect(await leftBehind(runDir, [port])).toEqual([
      `process group ${leader.pid} (listener) still running`,
      `port ${port} still in use`,
    ]);
    await stopProcessGroups(runDir);
    expect(await leftBehind(runDir, [port])).toEqual([]);
  });

  it("restartProcess replaces a group on the same port and keeps its place in the pids file", async () => {
    const runDir = newRunDir();
    const port = await freePort();
    const first = startListener(runDir, port);
    const other = startProcess(runDir, "other", process.execPath, [
      "-e",
      "setInterval(() => {}, 1000)",
      runDir,
    ]);
    await vi.waitFor(async () => expect(await listening(port)).toBe(true), { timeout: 5_000, interval: 50 });
    const script = `require("net").createServer().listen(${port}, "127.0.0.1"); setInterval(() => {}, 1000);`;
    const second = await restartProcess(runDir, first, process.execPath, ["-e", script, runDir], process.env);
    expect(alive(first.pid)).toBe(false);
    await vi.waitFor(async () => expect(await listening(port)).toBe(true), { timeout: 5_000, interval: 50 });
    expect(second.exitStatus()).toBeNull();
    expect(other.exitStatus()).toBeNull();
    expect(readFileSync(pidsFile(runDir), "utf8")).toBe(`${second.pid} listener\n${other.pid} other\n`);
  });

  it("leaves alone a recorded pid whose command line does not name the run directory (a reused pid)", async () => {
    const runDir = newRunDir();
    const stranger = spawn("sleep", ["300"], { stdio: "ignore", detached: true });
    strays.push(stranger);
    writeFileSync(pidsFile(runDir), `${stranger.pid} etcd\n`);
    expect(anyProcessRunning(runDir)).toBe(false);
    await stopProcessGroups(runDir, 500);
    expect(alive(stranger.pid!)).toBe(true);
    expect(await leftBehind(runDir, [])).toEqual([]);
  });
});
