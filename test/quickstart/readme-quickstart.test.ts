/**
 * The README's quick start, run verbatim as a new user would run it, so it cannot rot again (issue 13: its first
 * server command exited because the key was shorter than the server accepts). The commands are read from the
 * `## Quick start` section of README.md at test time; nothing here repeats them.
 *
 * Where the user's machine differs from a test's:
 * - `npm ci` is the one command not run: the copy links this checkout's installed `node_modules` instead (a
 *   fresh install is `scripts/test-all.sh`'s job and would cost minutes of CPU per run).
 * - The commands run in a copy of the working tree (a git repo with one commit, as a clone is) beside an empty
 *   bare `../deploy.git`, the deployment repo the README publishes to.
 * - They run in private network, PID and mount namespaces (`unshare`), so the README's fixed ports 6379 and 8080
 *   are the copy's own loopback, never shared with another test, and every background process (the README
 *   starts Redis and the server with `&`) ends when the run does.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "../..");

/** The commands of every `sh` block in the README's "Quick start" section; `\` continuations joined. */
export function quickStartCommands(readme: string): string[] {
  const section = /^## Quick start\n([\s\S]*?)(?=^## )/m.exec(readme);
  if (!section) throw new Error("README.md has no '## Quick start' section");
  const commands: string[] = [];
  for (const block of section[1]!.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    let pending = "";
    for (const line of block[1]!.split("\n")) {
      pending += line;
      if (pending.endsWith("\\")) pending += "\n";
      else {
        if (pending.trim() !== "") commands.push(pending);
        pending = "";
      }
    }
  }
  return commands;
}

/**
 * Runs `cmd-N.sh` in order, in one shell like a user's terminal. A command that ends in `&` starts a service:
 * the next command waits until one more TCP socket listens in the namespace than before (or the service exits).
 */
const DRIVER = String.raw`
set -u
ip link set lo up
listening() { awk 'FNR > 1 && $4 == "0A"' /proc/net/tcp /proc/net/tcp6 | wc -l; }
n=0
while [ -e "$Q/cmd-$n.sh" ]; do
  if [ -e "$Q/cmd-$n.bg" ]; then
    before=$(listening)
    . "$Q/cmd-$n.sh" > "$Q/out-$n" 2>&1 < /dev/null
    pid=$!
    rc=0
    until [ "$(listening)" -gt "$before" ]; do
      if ! kill -0 "$pid" 2> /dev/null; then wait "$pid"; rc=$?; [ "$rc" = 0 ] && rc=99; break; fi
      sleep 0.05
    done
    echo "$rc" > "$Q/rc-$n"
  elif [ -e "$Q/cmd-$n.skip" ]; then
    echo 0 > "$Q/rc-$n"
  else
    . "$Q/cmd-$n.sh" > "$Q/out-$n" 2>&1 < /dev/null
    echo "$?" > "$Q/rc-$n"
  fi
  n=$((n + 1))
done
`;

interface Outcome {
  readonly command: string;
  readonly rc: number;
  readonly output: string;
}

const commands = quickStartCommands(await readFile(join(ROOT, "README.md"), "utf8"));

describe("README quick start, run verbatim", () => {
  let base = "";
  let outcomes: Outcome[] = [];

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), "nl-quickstart-"));
    const clone = join(base, "neurallog");
    const queue = join(base, "queue");
    await mkdir(queue);
    // The working tree as a clone has it: tracked and new files, nothing ignored (no dist/, no node_modules).
    const { stdout } = await run("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    const files = stdout.split("\0").filter((f) => f !== "");
    for (const file of files) {
      await cp(join(ROOT, file), join(clone, file), { recursive: false, errorOnExist: false }).catch(
        (error: NodeJS.ErrnoException) => {
          if (error.code !== "ENOENT") throw error; // deleted in the working tree but not yet in the index
        },
      );
    }
    await symlink(join(ROOT, "node_modules"), join(clone, "node_modules"));
    const git = (args: string[], cwd = clone) => run("git", args, { cwd });
    await git(["init", "-q", "-b", "main"]);
    await git(["add", "-A"]);
    await git(["commit", "-q", "-m", "clone"]);
    await git(["init", "-q", "--bare", join(base, "deploy.git")], base);

    for (const [index, command] of commands.entries()) {
      await writeFile(join(queue, `cmd-${index}.sh`), `${command}\n`);
      if (command.trim() === "npm ci") await writeFile(join(queue, `cmd-${index}.skip`), "");
      else if (/&\s*$/.test(command.replace(/\s+#.*$/, "")))
        await writeFile(join(queue, `cmd-${index}.bg`), "");
    }
    await run("unshare", ["--net", "--pid", "--fork", "--kill-child", "--mount-proc", "bash", "-c", DRIVER], {
      cwd: clone,
      env: {
        ...process.env,
        Q: queue,
        // The user's git identity, which `tenant new` does not need but `publish` commits with.
        GIT_AUTHOR_NAME: "Quick Start",
        GIT_AUTHOR_EMAIL: "quickstart@example.com",
        GIT_COMMITTER_NAME: "Quick Start",
        GIT_COMMITTER_EMAIL: "quickstart@example.com",
      },
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    const names = new Set(await readdir(queue));
    outcomes = await Promise.all(
      commands.map(async (command, index) => ({
        command,
        rc: names.has(`rc-${index}`) ? Number(await readFile(join(queue, `rc-${index}`), "utf8")) : -1,
        output: names.has(`out-${index}`) ? await readFile(join(queue, `out-${index}`), "utf8") : "",
      })),
    );
  }, 300_000);

  afterAll(async () => {
    if (base) await rm(base, { recursive: true, force: true });
  });

  it("has the commands a new user types, in order", () => {
    const verbs = commands.map((c) =>
      /npx neurallog (\S+)|^(npm ci|redis-server|curl)/m.exec(c)?.slice(1).join(""),
    );
    expect(verbs).toEqual([
      "npm ci",
      "tenant",
      "validate",
      "diff",
      "synth",
      "publish",
      "redis-server",
      "server",
      "curl",
      "curl",
    ]);
  });

  it("every command exits as the README says (diff exits 2: the new tenant is a change)", () => {
    const expected = (command: string) => (/npx neurallog diff/.test(command) ? 2 : 0);
    // The output only of a command that went wrong, so a failure shows why.
    const got = outcomes.map(({ command, rc, output }) => ({
      command,
      rc,
      ...(rc === expected(command) ? {} : { output }),
    }));
    const want = outcomes.map(({ command }) => ({ command, rc: expected(command) }));
    expect(got).toEqual(want);
  });

  it("the scaffolded tenant is rendered and published to the deployment repo", async () => {
    const { stdout } = await run("git", ["ls-tree", "-r", "--name-only", "main"], {
      cwd: join(base, "deploy.git"),
    });
    expect(stdout.split("\n")).toEqual(
      expect.arrayContaining([expect.stringMatching(/^tenants\/newco\/.+\.yaml$/)]),
    );
    expect(await readdir(join(base, "neurallog/dist/tenants/newco"))).not.toEqual([]);
  });

  it("the server accepts the log line and the query finds it", () => {
    const [ingest, query] = outcomes.filter((o) => o.command.startsWith("curl"));
    expect(JSON.parse(ingest!.output)).toMatchObject({ accepted: 1 });
    const found = JSON.parse(query!.output) as { entries: { msg?: string; message?: string }[] };
    expect(JSON.stringify(found)).toContain("disk full");
  });
});
