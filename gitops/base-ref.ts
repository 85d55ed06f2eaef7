/**
 * The tenant directory as it was at a git ref of the tenants repo: extracted with `git archive REF:<dir>` into
 * a temporary folder (only that directory, not a whole worktree), and the file listing / single files of that
 * ref through simple-git. The working tree is never touched.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { simpleGit, type SimpleGit } from "simple-git";

export class BaseRefError extends Error {}

export interface TenantDirAtRef {
  readonly git: SimpleGit;
  /** The resolved commit of REF. */
  readonly commit: string;
  /** The tenant directory's path inside the repository, with a trailing `/` (empty at the root). */
  readonly prefix: string;
  /** Whether the tenant directory existed at REF. */
  readonly exists: boolean;
}

/** Locates TENANTS_DIR in its repository and resolves REF; errors name the ref and the directory. */
export async function tenantDirAtRef(tenantsDir: string, ref: string): Promise<TenantDirAtRef> {
  const git = simpleGit(tenantsDir);
  if (!(await git.checkIsRepo().catch(() => false))) {
    throw new BaseRefError(`${tenantsDir} is not inside a git repository; --base needs one`);
  }
  let commit: string;
  try {
    commit = (await git.raw(["rev-parse", "--verify", `${ref}^{commit}`])).trim();
  } catch (error) {
    throw new BaseRefError(`unknown git ref "${ref}" in ${tenantsDir}`, { cause: error });
  }
  const prefix = (await git.raw(["rev-parse", "--show-prefix"])).trim();
  const exists =
    prefix === "" ||
    (await git.raw(["cat-file", "-t", `${commit}:${prefix}`]).then(
      (type) => type.trim() === "tree",
      () => false,
    ));
  return { git, commit, prefix, exists };
}

/** File names directly inside the tenant directory at the ref. */
export async function filesAtRef(at: TenantDirAtRef): Promise<string[]> {
  if (!at.exists) return [];
  const out = await at.git.raw(["ls-tree", "--full-tree", "--name-only", `${at.commit}:${at.prefix}`]);
  return out.split("\n").filter((f) => f !== "");
}

export async function fileAtRef(at: TenantDirAtRef, fileName: string): Promise<string> {
  return at.git.show([`${at.commit}:${at.prefix}${fileName}`]);
}

/**
 * Extracts the tenant directory at the ref into a new temporary folder. The caller removes it with the
 * returned `cleanup` (also on failure).
 */
export async function extractTenantDir(
  at: TenantDirAtRef,
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), "neurallog-base-"));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  if (!at.exists) return { dir, cleanup };
  try {
    const cwd = (await at.git.revparse(["--show-toplevel"])).trim();
    await pipeArchive(cwd, `${at.commit}:${at.prefix}`, dir);
    return { dir, cleanup };
  } catch (error) {
    await cleanup();
    throw new BaseRefError(`cannot extract ${at.prefix || "the repository root"} at ${at.commit}`, {
      cause: error,
    });
  }
}

/** `git archive --format=tar TREE | tar -x -C DEST`, binary-safe (simple-git buffers output as text). */
function pipeArchive(cwd: string, tree: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const archive = spawn("git", ["archive", "--format=tar", tree], {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const extract = spawn("tar", ["-x", "-C", dest], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    archive.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    extract.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    archive.stdout.pipe(extract.stdin);
    let pending = 2;
    let failed = false;
    const done = (what: string) => (code: number | null) => {
      if (failed) return;
      if (code !== 0) {
        failed = true;
        archive.kill();
        extract.kill();
        reject(new Error(`${what} exited with ${code}: ${stderr.trim()}`));
      } else if (--pending === 0) resolve();
    };
    archive.on("error", reject).on("close", done("git archive"));
    extract.on("error", reject).on("close", done("tar -x"));
  });
}
