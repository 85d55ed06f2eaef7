/**
 * Starts the cluster's processes so that nothing outlives the cluster: each one leads its own process group
 * (`detached`), its pid is recorded in the run directory's `pids` file before anything else happens, and
 * `stopProcessGroups` ends every recorded group (SIGTERM, then SIGKILL) whoever calls it: the owner's teardown,
 * `npm run cluster:down`, or the watchdog when the owner died without tearing down.
 */
import { spawn } from "node:child_process";
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

export interface StartedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Exit code or signal once it ended; null while it runs. */
  exitStatus(): string | null;
}

const PIDS_FILE = "pids";

export function pidsFile(runDir: string): string {
  return join(runDir, PIDS_FILE);
}

/**
 * Spawns `command` as the leader of a new process group, output appended to `<runDir>/logs/<name>.log`.
 * The child is unref'd: `npm run cluster:up` exits and leaves the cluster running; its owner stops it by pid.
 */
export function startProcess(
  runDir: string,
  name: string,
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): StartedProcess {
  const logPath = join(runDir, "logs", `${name}.log`);
  const out = openSync(logPath, "a");
  let status: string | null = null;
  try {
    const child = spawn(command, args, { cwd: runDir, env, detached: true, stdio: ["ignore", out, out] });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    appendFileSync(pidsFile(runDir), `${child.pid} ${name}\n`);
    child.once("exit", (code, signal) => {
      status = signal ?? `exit ${code}`;
    });
    child.once("error", (error) => {
      status = `error ${error.message}`;
    });
    child.unref();
    return { name, pid: child.pid, logPath, exitStatus: () => status };
  } finally {
    closeSync(out);
  }
}

interface RecordedProcess {
  readonly pid: number;
  readonly name: string;
}

function recordedProcesses(runDir: string): RecordedProcess[] {
  const file = pidsFile(runDir);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [pid, name] = line.split(" ");
      return { pid: Number(pid), name: name ?? "?" };
    })
    .filter((p) => Number.isInteger(p.pid) && p.pid > 1);
}

/**
 * True while the group leader `pid` runs and is ours: its command line names the run directory. The check
 * matters for a pids file read long after the fact, when the pid may belong to someone else's process now.
 */
function isOurs(pid: number, runDir: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.includes(runDir);
  } catch {
    return false;
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is already gone.
  }
}

async function waitGone(groups: readonly RecordedProcess[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && groups.some((p) => groupAlive(p.pid))) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Ends every process group recorded in the run directory, last started first (clients of the API server, then
 * the API server, then etcd: each shuts down quickly once nothing talks to it): SIGTERM, then SIGKILL after
 * `graceMs`. Returns the names of the groups that needed SIGKILL (a slow shutdown, not an error).
 */
export async function stopProcessGroups(runDir: string, graceMs = 5_000): Promise<string[]> {
  // Without /proc evidence that a leader is ours we leave its group alone rather than risk signalling another
  // user's processes; our binaries do not fork, so a group never outlives its leader.
  const ours = recordedProcesses(runDir).filter((p) => isOurs(p.pid, runDir));
  const killed: string[] = [];
  // Everything started after the API server is a client of it and can go at once.
  const apiserver = ours.findIndex((p) => p.name === "kube-apiserver");
  const stages =
    apiserver === -1
      ? [ours.toReversed()]
      : [
          ours.slice(apiserver + 1),
          ...ours
            .slice(0, apiserver + 1)
            .toReversed()
            .map((p) => [p]),
        ];
  for (const stage of stages) {
    for (const p of stage) signalGroup(p.pid, "SIGTERM");
    await waitGone(stage, graceMs);
    const stubborn = stage.filter((p) => groupAlive(p.pid));
    for (const p of stubborn) signalGroup(p.pid, "SIGKILL");
    await waitGone(stubborn, 5_000);
    killed.push(...stubborn.map((p) => p.name));
  }
  return killed;
}

/**
 * Stops the group of `running` (SIGTERM, SIGKILL after `graceMs`) and starts it again with `args` and `env`. The
 * new pid takes the old one's line in the pids file, so `stopProcessGroups` keeps its stop order.
 */
export async function restartProcess(
  runDir: string,
  running: StartedProcess,
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  graceMs = 5_000,
): Promise<StartedProcess> {
  const group = [{ pid: running.pid, name: running.name }];
  signalGroup(running.pid, "SIGTERM");
  await waitGone(group, graceMs);
  if (groupAlive(running.pid)) {
    signalGroup(running.pid, "SIGKILL");
    await waitGone(group, 5_000);
  }
  if (groupAlive(running.pid)) throw new Error(`${running.name} (pid ${running.pid}) did not stop`);
  const started = startProcess(runDir, running.name, command, args, env);
  const lines = readFileSync(pidsFile(runDir), "utf8").split("\n");
  const newLine = `${started.pid} ${running.name}`;
  writeFileSync(
    pidsFile(runDir),
    lines
      .filter((line) => line !== newLine)
      .map((line) => (line === `${running.pid} ${running.name}` ? newLine : line))
      .join("\n"),
  );
  return started;
}

async function portFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * What a stopped cluster left behind: recorded process groups still alive and loopback `ports` still taken, as
 * readable lines (empty when all is gone). Read before the run directory and its pids file are removed.
 */
export async function leftBehind(runDir: string, ports: readonly number[]): Promise<string[]> {
  const found = recordedProcesses(runDir)
    // Ours if the leader still names the run dir, or if the leader is gone but members of its group live on; a
    // live leader that does not name it is a reused pid, someone else's.
    .filter((p) => isOurs(p.pid, runDir) || (groupAlive(p.pid) && !existsSync(`/proc/${p.pid}`)))
    .map((p) => `process group ${p.pid} (${p.name}) still running`);
  for (const port of ports) if (!(await portFree(port))) found.push(`port ${port} still in use`);
  return found;
}

/** Whether any recorded group leader of this run directory still runs. */
export function anyProcessRunning(runDir: string): boolean {
  return recordedProcesses(runDir).some((p) => isOurs(p.pid, runDir));
}

/**
 * Starts the watchdog (watchdog.sh): once `ownerPid` is gone while the run directory still has its pids file,
 * it runs `cluster-cli.ts down` on the directory. Returns its pid; an orderly stop removes the pids file or
 * kills it.
 */
export function startWatchdog(runDir: string, ownerPid: number): number {
  const child = spawn(
    "bash",
    [join(here, "watchdog.sh"), String(ownerPid), runDir, process.execPath, join(here, "cluster-cli.ts")],
    { detached: true, stdio: "ignore" },
  );
  child.unref();
  if (child.pid === undefined) throw new Error("could not start the cluster watchdog");
  return child.pid;
}
