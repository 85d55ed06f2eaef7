/**
 * The publisher: puts a rendered tree (`neurallog synth` output) into the deployment repo Argo CD syncs.
 *
 * It works in a throw-away clone: the managed folders (`tenants/`, `argocd/`, `platform/`) are replaced by the
 * rendered ones, so a tenant that left the source also leaves the deployment repo (its cluster objects stay:
 * the ApplicationSet preserves resources on deletion). Nothing is committed when nothing changed. A push that
 * loses a race is rebased on the new tip and retried, a bounded number of times with jittered back-off; it is
 * never forced, so a concurrent publisher's commit is never overwritten. Credentials are whatever git is
 * configured with (SSH agent, credential helper); nothing is stored.
 */
import { cp, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { simpleGit, type SimpleGit } from "simple-git";
import { SOURCE_TRAILER } from "./source-commit.ts";

/** The top-level folders of the deployment repo that publish owns; anything else there is left alone. */
export const MANAGED_FOLDERS = ["tenants", "argocd", "platform"] as const;

/** git's well-known id of the empty tree: the base to diff against before the first commit. */
const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

export interface PublishRequest {
  /** URL or local path of the deployment repo. */
  readonly repo: string;
  readonly branch: string;
  /** A rendered tree: `tenants/<name>/*.yaml`, `argocd/`, `platform/`. */
  readonly renderedDir: string;
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

export async function publishRendered(request: PublishRequest): Promise<PublishResult> {
  const maxAttempts = request.maxAttempts ?? 8;
  const work = await mkdtemp(path.join(tmpdir(), "neurallog-publish-"));
  try {
    const dir = path.join(work, "repo");
    const git = await cloneBranch(request.repo, request.branch, dir);
    await applyRenderedTree(dir, request.renderedDir);
    await git.raw(["add", "--all"]);
    let changes = await stagedChanges(git, (await hasHead(git)) ? "HEAD" : EMPTY_TREE, request.renderedDir);
    if (changes.files.length === 0) return { changes, attempts: 0 };
    await git.raw(["commit", "--quiet", "-m", commitMessage(changes, request)]);

    for (let attempt = 1; ; attempt++) {
      try {
        await git.push("origin", `HEAD:refs/heads/${request.branch}`);
        return { commit: (await git.revparse(["HEAD"])).trim(), changes, attempts: attempt };
      } catch (error) {
        const message = (error as Error).message;
        if (!LOST_RACE.test(message)) {
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
      const rebased = await rebaseOnRemote(git, request);
      if (!rebased) return { changes: { ...changes, files: [] }, attempts: attempt };
      changes = rebased;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Clones BRANCH of REPO into DIR; when the branch does not exist yet (a new, empty deployment repo), starts it
 * as an unborn branch so the first push creates it.
 */
async function cloneBranch(repo: string, branch: string, dir: string): Promise<SimpleGit> {
  const heads = await simpleGit()
    .listRemote(["--heads", repo, `refs/heads/${branch}`])
    .catch((error: unknown) => {
      throw new PublishError(`cannot reach the deployment repo ${repo}`, { cause: error });
    });
  if (heads.trim() !== "") {
    await simpleGit().clone(repo, dir, ["--branch", branch, "--single-branch", "--no-tags"]);
  } else {
    await simpleGit().init([dir, `--initial-branch=${branch}`]);
    await simpleGit(dir).addRemote("origin", repo);
  }
  const git = simpleGit(dir);
  // A CI runner often has no identity; use one that says what made the commit rather than fail.
  if (!(await git.getConfig("user.email")).value) {
    await git
      .addConfig("user.email", "neurallog-publish@localhost")
      .addConfig("user.name", "neurallog publish");
  }
  return git;
}

async function hasHead(git: SimpleGit): Promise<boolean> {
  return git.raw(["rev-parse", "--verify", "HEAD"]).then(
    () => true,
    () => false,
  );
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** Makes the managed folders of the clone in DIR equal to those of RENDERED (missing there = removed here). */
export async function applyRenderedTree(dir: string, rendered: string): Promise<void> {
  for (const folder of MANAGED_FOLDERS) {
    await rm(path.join(dir, folder), { recursive: true, force: true });
    if (await exists(path.join(rendered, folder))) {
      await cp(path.join(rendered, folder), path.join(dir, folder), { recursive: true });
    }
  }
}

/** What the staged (or, with TARGET, committed) change does, per tenant, relative to BASE. */
async function stagedChanges(
  git: SimpleGit,
  base: string,
  rendered: string,
  target?: string,
): Promise<PublishChanges> {
  const range = target ? [base, target] : ["--cached", base];
  const files = (await git.raw(["diff", "--name-only", "--no-renames", ...range]))
    .split("\n")
    .filter((f) => f !== "");
  const touched = new Set<string>();
  const other = new Set<string>();
  for (const file of files) {
    const [top, name] = file.split("/");
    if (top === "tenants" && name !== undefined && file.split("/").length > 2) touched.add(name);
    else if (top !== undefined) other.add(top);
  }
  const before = new Set(
    base === EMPTY_TREE
      ? []
      : (await git.raw(["ls-tree", "--name-only", base, "tenants/"]))
          .split("\n")
          .filter((f) => f !== "")
          .map((f) => path.posix.basename(f)),
  );
  const added: string[] = [];
  const changed: string[] = [];
  const removed: string[] = [];
  for (const name of [...touched].sort()) {
    const now = await exists(path.join(rendered, "tenants", name));
    if (!before.has(name)) added.push(name);
    else if (!now) removed.push(name);
    else changed.push(name);
  }
  return { added, changed, removed, other: [...other].sort(), files };
}

function listForSubject(verb: string, names: readonly string[]): string | undefined {
  if (names.length === 0) return undefined;
  return names.length <= 3 ? `${verb} ${names.join(", ")}` : `${verb} ${names.length} tenants`;
}

/** Subject names the tenants (or counts, when many); the body lists every one and the source commit. */
export function commitMessage(
  changes: PublishChanges,
  request: Pick<PublishRequest, "source" | "messagePrefix">,
) {
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

/**
 * After a lost race: fetch the new tip, rebase our one commit on it and reword it to say what it does now
 * (part of it may already be there). Returns undefined when nothing of ours is left to publish. A conflict
 * (both publishers rendered the same file differently) stops with an error instead of picking a winner.
 */
async function rebaseOnRemote(git: SimpleGit, request: PublishRequest): Promise<PublishChanges | undefined> {
  const remote = `refs/remotes/origin/${request.branch}`;
  await git.fetch("origin", `+refs/heads/${request.branch}:${remote}`);
  try {
    await git.rebase([remote]);
  } catch (error) {
    const conflicts = (await git.diff(["--name-only", "--diff-filter=U"])).trim().split("\n");
    await git.rebase(["--abort"]).catch(() => undefined);
    throw new PublishError(
      `a concurrent publish changed the same files differently (${conflicts.join(", ")}); nothing was pushed. ` +
        `Publish again from the newest tenants commit.`,
      { cause: error },
    );
  }
  const head = (await git.revparse(["HEAD"])).trim();
  const tip = (await git.revparse([remote])).trim();
  if (head === tip) return undefined;
  const changes = await stagedChanges(git, remote, request.renderedDir, "HEAD");
  await git.raw(["commit", "--quiet", "--amend", "-m", commitMessage(changes, request)]);
  return changes;
}

function backoff(attempt: number): number {
  const base = Math.min(2000, 100 * 2 ** (attempt - 1));
  return Math.round(base * (0.5 + Math.random()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
