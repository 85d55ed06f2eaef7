/**
 * The tenant directory as it was at a git ref of the tenants repo, read straight from the object database: the
 * listing with each file's blob id (`git ls-tree`), and only the blobs that are needed (`git cat-file --batch`).
 * Comparing blob ids tells unchanged tenants apart without reading or writing them; no worktree, no checkout,
 * the working tree is never touched.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { simpleGit, type SimpleGit } from "simple-git";

export class BaseRefError extends Error {}

export interface TenantDirAtRef {
  readonly git: SimpleGit;
  /** The resolved commit of REF. */
  readonly commit: string;
  /** The tenant directory's path inside the repository, with a trailing `/` (empty at the root). */
  readonly prefix: string;
  /** The repository's top level, where git commands taking full paths run. */
  readonly cwd: string;
}

/** Locates TENANTS_DIR in its repository and resolves REF (one git call); errors name the ref and directory. */
export async function tenantDirAtRef(tenantsDir: string, ref: string): Promise<TenantDirAtRef> {
  let git: SimpleGit;
  let out: string;
  try {
    git = simpleGit(tenantsDir);
    out = await git.raw(["rev-parse", "--show-toplevel", "--show-prefix", `${ref}^{commit}`, "--"]);
  } catch (error) {
    const message = (error as Error).message;
    if (/not a git repository/i.test(message)) {
      throw new BaseRefError(`${tenantsDir} is not inside a git repository; --base needs one`, {
        cause: error,
      });
    }
    if (/does not exist|ENOENT|no such file/i.test(message)) {
      throw new BaseRefError(`no tenant directory ${tenantsDir}`, { cause: error });
    }
    throw new BaseRefError(`unknown git ref "${ref}" in ${tenantsDir}`, { cause: error });
  }
  const [cwd, prefix, commit] = out.split("\n").map((l) => l.trim());
  return { git, commit: commit!, prefix: prefix!, cwd: cwd! };
}

/**
 * Files directly inside the tenant directory at the ref: file name → git blob id. A directory that did not exist
 * at the ref has no files; anything git cannot read (a missing object in a shallow or partial clone, a corrupt
 * tree) is a BaseRefError, never an empty listing: an unreadable base must not pass for a base without tenants
 * (the decommission guard would then let any removal through).
 */
export async function filesAtRef(at: TenantDirAtRef): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  let out: string;
  try {
    // A pathspec ending in "/" lists the directory's entries, and nothing (exit 0) when it is absent at the
    // commit; --full-tree: paths from the top, whatever the working directory.
    out = await at.git.raw([
      "ls-tree",
      "--full-tree",
      "-z",
      at.commit,
      ...(at.prefix === "" ? [] : ["--", at.prefix]),
    ]);
  } catch (error) {
    throw new BaseRefError(
      `cannot read the tenant directory at ${at.commit.slice(0, 12)}: ${(error as Error).message.trim()}`,
      { cause: error },
    );
  }
  for (const entry of out.split("\0")) {
    const match = /^\d+ blob ([0-9a-f]+)\t(.+)$/s.exec(entry);
    if (match && match[2]!.startsWith(at.prefix)) files.set(match[2]!.slice(at.prefix.length), match[1]!);
  }
  return files;
}

/** git's id of a blob with these bytes: equal ids, equal content, without reading the blob from git. */
export function gitBlobId(bytes: Uint8Array): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

/**
 * The contents of the blobs IDS, read through one `git cat-file --batch` (one process for any number of files;
 * spawned directly because simple-git decodes output as text).
 */
export function readBlobs(at: TenantDirAtRef, ids: readonly string[]): Promise<Map<string, Buffer>> {
  const blobs = new Map<string, Buffer>();
  if (ids.length === 0) return Promise.resolve(blobs);
  return new Promise((resolve, reject) => {
    const child = spawn("git", ["cat-file", "--batch"], { cwd: at.cwd, stdio: ["pipe", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new BaseRefError(`git cat-file failed (${code}): ${stderr.trim()}`));
      const out = Buffer.concat(chunks);
      let offset = 0;
      for (const id of ids) {
        const newline = out.indexOf(10, offset);
        const header = out.subarray(offset, newline).toString();
        const size = Number(/^[0-9a-f]+ blob (\d+)$/.exec(header)?.[1]);
        if (!Number.isInteger(size))
          return reject(new BaseRefError(`git cat-file: unexpected "${header}" for ${id}`));
        blobs.set(id, out.subarray(newline + 1, newline + 1 + size));
        offset = newline + 1 + size + 1;
      }
      resolve(blobs);
    });
    child.stdin.end(`${ids.join("\n")}\n`);
  });
}
