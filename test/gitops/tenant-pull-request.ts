/**
 * The everyday GitOps flow, driven through the real CLI commands against real git repositories: a tenants repo
 * already published to a bare deployment repo; a branch adds a tenant with `neurallog tenant new`; the pull
 * request runs `validate --base main` and `diff --base main`; the branch is merged; `publish` runs on main.
 * Used by gitops-flow.test.ts (git only) and gitops-flow.cluster.test.ts (then synced into the test cluster).
 */
import { simpleGit } from "simple-git";
import { vi } from "vitest";
import { run as diff } from "../../cli/commands/diff.ts";
import { run as publish } from "../../cli/commands/publish.ts";
import { run as tenant } from "../../cli/commands/tenant.ts";
import { run as validate } from "../../cli/commands/validate.ts";
import { history } from "./git-fixtures.ts";

export interface CommandRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs one CLI command in-process with its console output captured. */
export async function capture(
  command: (argv: string[]) => Promise<number>,
  argv: string[],
): Promise<CommandRun> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((line: string) => void out.push(line));
  const error = vi.spyOn(console, "error").mockImplementation((line: string) => void err.push(line));
  try {
    const code = await command(argv);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

export interface PullRequestFlow {
  readonly initialPublish: CommandRun;
  readonly scaffold: CommandRun;
  readonly validate: CommandRun;
  readonly diff: CommandRun;
  readonly publish: CommandRun;
  /** Deployment repo commits, newest first, before and after the publish on main. */
  readonly deployBefore: Awaited<ReturnType<typeof history>>;
  readonly deployAfter: Awaited<ReturnType<typeof history>>;
  /** The tenants-repo commit publish rendered from (the merge). */
  readonly mergeCommit: string;
}

export async function addTenantByPullRequest(options: {
  /** The tenants repo (a git work tree on main) and its tenant directory. */
  readonly repo: string;
  readonly tenants: string;
  /** The bare deployment repo. */
  readonly deployRepo: string;
  readonly newTenant: string;
}): Promise<PullRequestFlow> {
  const { repo, tenants, deployRepo, newTenant } = options;
  const git = simpleGit(repo);
  const initialPublish = await capture(publish, [
    "--repo",
    deployRepo,
    "--branch",
    "main",
    "--tenants",
    tenants,
  ]);
  const deployBefore = await history(deployRepo);

  await git.checkoutLocalBranch(`add-${newTenant}`);
  const scaffold = await capture(tenant, ["new", newTenant, "--tenants", tenants, "--plan", "small"]);
  await git.add(".").commit(`add tenant ${newTenant}`);
  const validated = await capture(validate, ["--tenants", tenants, "--base", "main"]);
  const diffed = await capture(diff, ["--tenants", tenants, "--base", "main"]);

  await git.checkout("main");
  await git.merge(["--no-ff", "-m", `merge add-${newTenant}`, `add-${newTenant}`]);
  const mergeCommit = (await git.revparse(["HEAD"])).trim();
  const published = await capture(publish, ["--repo", deployRepo, "--branch", "main", "--tenants", tenants]);
  const deployAfter = await history(deployRepo);
  return {
    initialPublish,
    scaffold,
    validate: validated,
    diff: diffed,
    publish: published,
    deployBefore,
    deployAfter,
    mergeCommit,
  };
}

/** The rendered file paths `neurallog diff` (text format) lists as added. */
export function addedPaths(diffOutput: string): string[] {
  return [...diffOutput.matchAll(/^ {2}\+ .+ {2}\((.+)\)$/gm)].map((m) => m[1]!).sort();
}
