/**
 * Real git repositories for the GitOps tests: bare deployment repos, tenants repos with commits, and rendered
 * trees written from plain objects. Everything lives under one temp folder that `cleanup()` removes.
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { simpleGit } from "simple-git";

export interface Sandbox {
  readonly root: string;
  /** A bare repository (the deployment repo, or a tenants repo's origin). */
  bare(name: string): Promise<string>;
  /** Writes FILES (relative path → content) under a fresh folder NAME and returns its path. */
  tree(name: string, files: Record<string, string>): Promise<string>;
  cleanup(): Promise<void>;
}

/** Identity and quiet defaults for every git the tests and the code under test spawn. */
export const GIT_ENV = {
  GIT_AUTHOR_NAME: "test",
  GIT_AUTHOR_EMAIL: "test@example.com",
  GIT_COMMITTER_NAME: "test",
  GIT_COMMITTER_EMAIL: "test@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
};

export async function sandbox(): Promise<Sandbox> {
  const root = await mkdtemp(path.join(tmpdir(), "nl-gitops-test-"));
  return {
    root,
    async bare(name) {
      const dir = path.join(root, name);
      await simpleGit().init(["--bare", "--initial-branch=main", dir]);
      return dir;
    },
    async tree(name, files) {
      const dir = path.join(root, name);
      for (const [file, content] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
        await writeFile(path.join(dir, file), content);
      }
      await mkdir(dir, { recursive: true });
      return dir;
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** The commits of BRANCH in REPO, newest first: hash, full message and the files each touched. */
export async function history(repo: string, branch = "main") {
  const git = simpleGit(repo);
  const out = await git.raw(["log", "--no-renames", "--format=%x00%H%x01%B%x01", "--name-only", branch]);
  return out
    .split("\0")
    .filter((c) => c.trim() !== "")
    .map((chunk) => {
      const [hash, message, files] = chunk.split("\x01");
      return {
        hash: hash!.trim(),
        message: message!.trim(),
        files: files!.split("\n").filter((f) => f.trim() !== ""),
      };
    });
}

/** The file list of BRANCH's tip in REPO. */
export async function treeFiles(repo: string, branch = "main"): Promise<string[]> {
  const out = await simpleGit(repo).raw(["ls-tree", "-r", "--name-only", branch]);
  return out.split("\n").filter((f) => f !== "");
}

export async function showFile(repo: string, file: string, branch = "main"): Promise<string> {
  return simpleGit(repo).show([`${branch}:${file}`]);
}

/** The example tenants (tenants/ of this repo). */
export const EXAMPLE_TENANTS = path.join(import.meta.dirname, "../../tenants");

/**
 * A tenants repository at SANDBOX/NAME with the example tenants committed under `tenants/` on main; returns
 * the repo and its tenant directory.
 */
export async function tenantsRepo(box: Sandbox, name = "tenants-repo") {
  const repo = path.join(box.root, name);
  const tenants = path.join(repo, "tenants");
  await cp(EXAMPLE_TENANTS, tenants, { recursive: true });
  const git = simpleGit(repo);
  await git.init(["--initial-branch=main"]).add(".").commit("example tenants");
  return { repo, tenants, git };
}
