/**
 * The publisher: puts a rendered tree (what `neurallog synth` writes) into the deployment repo Argo CD syncs.
 *
 * It never checks files out. A `--no-checkout` clone gives the branch tip; the tip's managed folders
 * (`tenants/`, `argocd/`, `platform/`) are compared with the rendering by git blob id (computed in-process), and
 * only the difference goes into one commit, written by `git fast-import` on top of the tip. So a tenant that left
 * the source leaves the deployment repo too (its cluster objects stay: the ApplicationSet preserves resources on
 * deletion), other files of the deployment repo are left alone, and 1000 unchanged tenants cost a hash each.
 *
 * Nothing is committed when nothing changed. A push that loses a race is rebased: the new tip is fetched and the
 * same change set is committed on top of it, unless the other publisher changed one of the same files
 * differently (a conflict: nothing is pushed, no winner is picked). Retries are bounded, with jittered back-off.
 * Pushes are never forced. Credentials are whatever git is configured with; nothing is stored.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { simpleGit, type SimpleGit } from "simple-git";
import { gitBlobId } from "./base-ref.ts";
import type { RenderedFile } from "./render-cache.ts";
import { SOURCE_TRAILER } from "./source-commit.ts";

/** The top-level folders of the deployment repo that publish owns; anything else there is left alone. */
export const MANAGED_FOLDERS = ["tenants", "argocd", "platform"] as const;

export interface PublishRequest {
  /** URL or local path of the deployment repo. */
  readonly repo: string;
  readonly branch: string;
  /** The rendering: paths under the managed folders (`tenants/<name>/*.yaml`, `argocd/...`, `platform/...`). */
  readonly files: readonly RenderedFile[];
  /** The tenants-repo commit the rendering came from (see `sourceCommit`). */
  readonly source: string;
  /** Put before the subject line, e.g. `[deploy] `. */
  readonly messagePrefix?: string;
  /** Push attempts before giving up; default 8. */
  readonly maxAttempts?: number;
}

export interface PublishChanges {
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
  /** Managed folders other than `tenants/` whose content changed (`argocd`, `platform`). */
  readonly other: readonly string[];
  /** Every path the commit touches. */
  readonly files: readonly string[];
}

export interface PublishResult {
  /** The pushed commit; undefined when there was nothing to publish. */
  readonly commit?: string;
  readonly changes: PublishChanges;
  readonly attempts: number;
}

export class PublishError extends Error {}

/** Push rejections worth a fetch-rebase-retry: someone else moved the branch between our fetch and push. */
const LOST_RACE =
  /rejected|non-fast-forward|fetch first|cannot lock ref|failed to update ref|stale info|incorrect old value/i;

/** One path's new state: a blob id, or null for a deletion. */
type ChangeSet = Map<string, string | null>;

/** Reads a rendered tree from disk (the managed folders of DIR), e.g. `neurallog synth` output. */
export async function readRenderedTree(dir: string): Promise<RenderedFile[]> {
  const files: RenderedFile[] = [];
  for (const folder of MANAGED_FOLDERS) {
    const root = path.join(dir, folder);
    const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
    for (const entry of entries.filter((e) => e.isFile())) {
      const file = path.join(entry.parentPath, entry.name);
      files.push({
        path: path.relative(dir, file).split(path.sep).join("/"),
        content: await readFile(file, "utf8"),
      });
    }
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : 1));
}

export async function publishRendered(request: PublishRequest): Promise<PublishResult> {
  const maxAttempts = request.maxAttempts ?? 8;
  const desired = new Map<string, { id: string; content: string }>();
  for (const file of request.files) {
    if (!MANAGED_FOLDERS.some((f) => file.path.startsWith(`${f}/`))) {
      throw new PublishError(`rendered file ${file.path} is outside ${MANAGED_FOLDERS.join("/, ")}/`);
    }
    desired.set(file.path, { id: gitBlobId(Buffer.from(file.content)), content: file.content });
  }

  const work = await mkdtemp(path.join(tmpdir(), "neurallog-publish-"));
  try {
    const git = await cloneBranch(request.repo, request.branch, path.join(work, "repo"));
    let base = await remoteTip(git, request.branch);
    const baseFiles = await managedFiles(git, base);
    const changeSet: ChangeSet = new Map();
    for (const [file, { id }] of desired) if (baseFiles.get(file) !== id) changeSet.set(file, id);
    for (const file of baseFiles.keys()) if (!desired.has(file)) changeSet.set(file, null);
    let changes = describeChanges(changeSet, baseFiles, desired);
    if (changeSet.size === 0) return { changes, attempts: 0 };
    let commit = await commitChangeSet(git, base, changeSet, desired, commitMessage(changes, request));

    for (let attempt = 1; ; attempt++) {
      try {
        await git.push("origin", `${commit}:refs/heads/${request.branch}`);
        return { commit, changes, attempts: attempt };
      } catch (error) {
        if (!LOST_RACE.test((error as Error).message)) {
          throw new PublishError(`push to ${request.repo} failed`, { cause: error });
        }
        if (attempt >= maxAttempts) {
          throw new PublishError(
            `push to ${request.repo} lost the race ${attempt} times; giving up (nothing was forced)`,
            { cause: error },
          );
        }
      }
      await sleep(backoff(attempt));
      // Rebase: our change set, minus what the new tip already has, on top of the new tip.
      await git.fetch("origin", `+refs/heads/${request.branch}:refs/remotes/origin/${request.branch}`);
      const tip = await remoteTip(git, request.branch);
      const tipFiles = await managedFiles(git, tip);
      const conflicts = [...changeSet].filter(([file, id]) => {
        const theirs = tipFiles.get(file) ?? null;
        return theirs !== (baseFiles.get(file) ?? null) && theirs !== id;
      });
      if (conflicts.length > 0) {
        throw new PublishError(
          `a concurrent publish changed the same files differently (${conflicts.map(([f]) => f).join(", ")}); ` +
            `nothing was pushed. Publish again from the newest tenants commit.`,
        );
      }
      for (const [file, id] of changeSet) if ((tipFiles.get(file) ?? null) === id) changeSet.delete(file);
      base = tip;
      if (changeSet.size === 0)
        return { changes: describeChanges(changeSet, tipFiles, desired), attempts: attempt };
      changes = describeChanges(changeSet, tipFiles, desired);
      commit = await commitChangeSet(git, base, changeSet, desired, commitMessage(changes, request));
    }
  } finally {
    // maxRetries: a git child may still be closing files in the clone.
    await rm(work, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * A clone of BRANCH of REPO without a checkout (only objects and refs); a new, empty branch when it does not
 * exist yet (the first push creates it).
 */
async function cloneBranch(repo: string, branch: string, dir: string): Promise<SimpleGit> {
  const heads = await simpleGit()
    .listRemote(["--heads", repo, `refs/heads/${branch}`])
    .catch((error: unknown) => {
      throw new PublishError(`cannot reach the deployment repo ${repo}`, { cause: error });
    });
  if (heads.trim() !== "") {
    await simpleGit().clone(repo, dir, ["--no-checkout", "--branch", branch, "--single-branch", "--no-tags"]);
  } else {
    await simpleGit().init([dir]);
    // git clone stores a local path as absolute; a remote added by hand is read relative to the clone.
    await simpleGit(dir).addRemote("origin", localPathAsAbsolute(repo));
  }
  const git = simpleGit(dir);
  // No background gc in a folder that is deleted right after.
  await git.addConfig("gc.auto", "0").addConfig("maintenance.auto", "false");
  return git;
}

/** REPO unchanged when git reads it as a URL (`scheme://…`, or scp-like `host:path`), else resolved absolute. */
function localPathAsAbsolute(repo: string): string {
  const colon = repo.indexOf(":");
  const slash = repo.indexOf("/");
  const url = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(repo) || (colon > 0 && (slash === -1 || colon < slash));
  return url ? repo : path.resolve(repo);
}

/** The fetched tip of BRANCH, or undefined for a branch that does not exist yet. */
async function remoteTip(git: SimpleGit, branch: string): Promise<string | undefined> {
  return git.raw(["rev-parse", "--verify", `refs/remotes/origin/${branch}^{commit}`]).then(
    (sha) => sha.trim(),
    () => undefined,
  );
}

/** Path → blob id of every file under the managed folders at COMMIT. */
async function managedFiles(git: SimpleGit, commit: string | undefined): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  if (!commit) return files;
  const out = await git.raw(["ls-tree", "-r", "--full-tree", commit, "--", ...MANAGED_FOLDERS]);
  for (const line of out.split("\n")) {
    const match = /^\d+ blob ([0-9a-f]+)\t(.+)$/.exec(line);
    if (match) files.set(match[2]!, match[1]!);
  }
  return files;
}

/** What the change set does, per tenant, relative to the files of its base. */
function describeChanges(
  changeSet: ChangeSet,
  baseFiles: ReadonlyMap<string, string>,
  desired: ReadonlyMap<string, unknown>,
): PublishChanges {
  const tenantOf = (file: string) => /^tenants\/([^/]+)\//.exec(file)?.[1];
  const tenantsIn = (files: Iterable<string>) =>
    new Set([...files].map(tenantOf).filter((t) => t !== undefined));
  const before = tenantsIn(baseFiles.keys());
  const after = tenantsIn(desired.keys());
  const added: string[] = [];
  const changed: string[] = [];
  const removed: string[] = [];
  for (const tenant of [...tenantsIn(changeSet.keys())].sort()) {
    if (!before.has(tenant)) added.push(tenant);
    else if (!after.has(tenant)) removed.push(tenant);
    else changed.push(tenant);
  }
  const other = [...new Set([...changeSet.keys()].filter((f) => !tenantOf(f)).map((f) => f.split("/")[0]!))];
  return { added, changed, removed, other: other.sort(), files: [...changeSet.keys()].sort() };
}

function listForSubject(verb: string, names: readonly string[]): string | undefined {
  if (names.length === 0) return undefined;
  return names.length <= 3 ? `${verb} ${names.join(", ")}` : `${verb} ${names.length} tenants`;
}

/** Subject names the tenants (or counts, when many); the body lists every one and the source commit. */
export function commitMessage(
  changes: PublishChanges,
  request: Pick<PublishRequest, "source" | "messagePrefix">,
): string {
  const parts = [
    listForSubject("add", changes.added),
    listForSubject("update", changes.changed),
    listForSubject("remove", changes.removed),
  ].filter((p) => p !== undefined);
  if (parts.length === 0) parts.push(`update ${changes.other.join(", ")}`);
  const body = [
    changes.added.length > 0 ? `Added tenants: ${changes.added.join(", ")}` : undefined,
    changes.changed.length > 0 ? `Changed tenants: ${changes.changed.join(", ")}` : undefined,
    changes.removed.length > 0 ? `Removed tenants: ${changes.removed.join(", ")}` : undefined,
    changes.other.length > 0 ? `Also changed: ${changes.other.map((o) => `${o}/`).join(", ")}` : undefined,
  ].filter((l) => l !== undefined);
  return [
    `${request.messagePrefix ?? ""}neurallog publish: ${parts.join("; ")}`,
    "",
    ...body,
    "",
    `${SOURCE_TRAILER}: ${request.source}`,
    "",
  ].join("\n");
}

/** `Name <email> time zone` as git would use it (env, then config), or a publisher identity when unset. */
async function identity(git: SimpleGit, which: "AUTHOR" | "COMMITTER"): Promise<string> {
  const now = `${Math.floor(Date.now() / 1000)} +0000`;
  return git.raw(["var", `GIT_${which}_IDENT`]).then(
    (ident) => ident.trim(),
    () => `neurallog publish <neurallog-publish@localhost> ${now}`,
  );
}

/**
 * One commit on top of BASE applying CHANGE_SET, written by `git fast-import`: one process however many files,
 * no index and no working tree. Returns the commit id.
 */
async function commitChangeSet(
  git: SimpleGit,
  base: string | undefined,
  changeSet: ChangeSet,
  desired: ReadonlyMap<string, { id: string; content: string }>,
  message: string,
): Promise<string> {
  const ref = "refs/neurallog/publish";
  const chunks: Buffer[] = [];
  const text = (s: string) => chunks.push(Buffer.from(s));
  const data = (bytes: Buffer) => {
    text(`data ${bytes.length}\n`);
    chunks.push(bytes);
    text("\n");
  };
  // `reset` first: without a `from`, the commit is a root commit, not a child of an earlier attempt's.
  text(`reset ${ref}\n`);
  text(`commit ${ref}\n`);
  text(`author ${await identity(git, "AUTHOR")}\n`);
  text(`committer ${await identity(git, "COMMITTER")}\n`);
  data(Buffer.from(message));
  if (base) text(`from ${base}\n`);
  for (const [file, id] of [...changeSet].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (id === null) {
      text(`D ${file}\n`);
    } else {
      text(`M 100644 inline ${file}\n`);
      data(Buffer.from(desired.get(file)!.content));
    }
  }
  text("\n");
  await runFastImport(await git.revparse(["--absolute-git-dir"]), Buffer.concat(chunks));
  return (await git.revparse([ref])).trim();
}

function runFastImport(gitDir: string, stream: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", ["--git-dir", gitDir, "fast-import", "--quiet", "--force"], {
      stdio: ["pipe", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new PublishError(`git fast-import failed (${code}): ${stderr.trim()}`)),
    );
    child.stdin.end(stream);
  });
}

function backoff(attempt: number): number {
  const base = Math.min(2000, 100 * 2 ** (attempt - 1));
  return Math.round(base * (0.5 + Math.random()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
