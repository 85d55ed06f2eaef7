/**
 * Which tenants-repo commit a rendering came from, for the deployment repo's commit message: `git rev-parse
 * HEAD`, with `-dirty` when the tenant directory has uncommitted changes (someone published by hand).
 */
import { simpleGit } from "simple-git";

export const SOURCE_TRAILER = "Source-Commit";

export async function sourceCommit(tenantsDir: string): Promise<string> {
  const git = simpleGit(tenantsDir);
  try {
    if (!(await git.checkIsRepo())) return "unknown (not a git repository)";
    const head = (await git.revparse(["HEAD"])).trim();
    // `-- .`: only the tenant directory counts; unrelated edits elsewhere in the repo change nothing rendered.
    const status = await git.raw(["status", "--porcelain", "--untracked-files=all", "--", "."]);
    return status.trim() === "" ? head : `${head}-dirty`;
  } catch (error) {
    // A repository without commits yet: there is no HEAD to name.
    return `unknown (${(error as Error).message.split("\n")[0]})`;
  }
}
