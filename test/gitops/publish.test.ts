import { execFile } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { simpleGit } from "simple-git";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { publishRendered, readRenderedTree } from "../../gitops/deployment-repo.ts";
import { GIT_ENV, history, sandbox, showFile, treeFiles, type Sandbox } from "./git-fixtures.ts";

Object.assign(process.env, GIT_ENV);
const run = promisify(execFile);

/** A rendered tree as synth writes it: tenants/<name>/<file>, plus argocd/ and platform/. */
function rendered(tenants: Record<string, Record<string, string>>, extra: Record<string, string> = {}) {
  const files: Record<string, string> = { "platform/controller.yaml": "kind: Deployment\n", ...extra };
  for (const [name, objects] of Object.entries(tenants)) {
    files[`argocd/project-${name}.yaml`] = `kind: AppProject\nmetadata: { name: ${name} }\n`;
    for (const [file, content] of Object.entries(objects)) files[`tenants/${name}/${file}`] = content;
  }
  return files;
}

const acme = { "namespace.yaml": "kind: Namespace\n", "quota.yaml": "hard: { cpu: 2 }\n" };
const globex = { "namespace.yaml": "kind: Namespace # globex\n" };

let box: Sandbox;
beforeEach(async () => {
  box = await sandbox();
});
afterEach(async () => {
  await box.cleanup();
});

/**
 * Runs two publishers as separate processes against REPO, one per rendered tree. A pre-push hook holds each
 * until both have cloned and committed: their pushes then race on the same old tip, so one push is rejected and
 * must rebase. (Plain git hooks through GIT_CONFIG_*; the code under test is unchanged.)
 */
async function race(repo: string, trees: { a: string; b: string }) {
  const hooks = path.join(box.root, "hooks");
  const barrier = path.join(box.root, "barrier");
  await mkdir(barrier);
  await mkdir(hooks);
  await writeFile(
    path.join(hooks, "pre-push"),
    `#!/bin/sh\ntouch "$BARRIER_DIR/$RACER"\nn=0\n` +
      `while [ "$(ls "$BARRIER_DIR" | wc -l)" -lt 2 ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done\nexit 0\n`,
  );
  await chmod(path.join(hooks, "pre-push"), 0o755);
  const child = path.join(import.meta.dirname, "publish-race-child.ts");
  const racers = (["a", "b"] as const).map((racer) =>
    run(process.execPath, [child, repo, trees[racer], `source-${racer}`], {
      timeout: 60_000,
      env: {
        ...process.env,
        RACER: racer,
        BARRIER_DIR: barrier,
        GIT_CONFIG_COUNT: "1",
        GIT_CONFIG_KEY_0: "core.hooksPath",
        GIT_CONFIG_VALUE_0: hooks,
      },
    }),
  );
  // Each racer's exit code and output; a failing racer must not hide the other's result.
  return Promise.all(
    racers.map((r) =>
      r.then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({
          code: e.code,
          stdout: e.stdout,
          stderr: e.stderr,
        }),
      ),
    ),
  );
}

describe("publishRendered", () => {
  it("creates the branch in an empty deployment repo with exactly the rendered files, in one commit", async () => {
    const repo = await box.bare("deploy.git");
    const tree = await box.tree("r1", rendered({ acme, globex }));
    const result = await publishRendered({
      repo,
      branch: "main",
      files: await readRenderedTree(tree),
      source: "abc123",
    });

    expect(result.changes.added).toEqual(["acme", "globex"]);
    const commits = await history(repo);
    expect(commits).toHaveLength(1);
    expect(commits[0]!.hash).toBe(result.commit);
    expect(commits[0]!.files.sort()).toEqual(Object.keys(rendered({ acme, globex })).sort());
    expect(commits[0]!.message).toContain("neurallog publish: add acme, globex");
    expect(commits[0]!.message).toContain("Source-Commit: abc123");
  });

  it("publishes to an empty deployment repo given as a relative path (the README's ../deploy.git)", async () => {
    const repo = await box.bare("deploy.git");
    const tree = await box.tree("r1", rendered({ acme }));
    const relative = path.relative(process.cwd(), repo);
    const result = await publishRendered({
      repo: relative,
      branch: "main",
      files: await readRenderedTree(tree),
      source: "s1",
    });
    expect((await history(repo)).map((c) => c.hash)).toEqual([result.commit]);
  });

  it("commits nothing when the rendering did not change", async () => {
    const repo = await box.bare("deploy.git");
    const tree = await box.tree("r1", rendered({ acme }));
    await publishRendered({ repo, branch: "main", files: await readRenderedTree(tree), source: "s1" });
    const again = await publishRendered({
      repo,
      branch: "main",
      files: await readRenderedTree(tree),
      source: "s2",
    });

    expect(again.commit).toBeUndefined();
    expect(again.changes.files).toEqual([]);
    expect(await history(repo)).toHaveLength(1);
  });

  it("names added, changed and removed tenants; leaves files outside the managed folders alone", async () => {
    const repo = await box.bare("deploy.git");
    // Someone keeps a README in the deployment repo: publish must not delete it.
    const seed = await box.tree("seed", { "README.md": "deployment repo\n" });
    const seedGit = simpleGit(seed);
    await seedGit.init(["--initial-branch=main"]).add(".").commit("seed").addRemote("origin", repo);
    await seedGit.push("origin", "main");
    await publishRendered({
      repo,
      branch: "main",
      files: await readRenderedTree(await box.tree("r1", rendered({ acme, globex }))),
      source: "s1",
    });

    const next = rendered({ acme: { ...acme, "quota.yaml": "hard: { cpu: 4 }\n" }, initech: globex });
    const result = await publishRendered({
      repo,
      branch: "main",
      files: await readRenderedTree(await box.tree("r2", next)),
      source: "s2-dirty",
      messagePrefix: "[deploy] ",
    });

    expect(result.changes).toMatchObject({ added: ["initech"], changed: ["acme"], removed: ["globex"] });
    const [last] = await history(repo);
    expect(last!.message.split("\n")[0]).toBe(
      "[deploy] neurallog publish: add initech; update acme; remove globex",
    );
    expect(last!.message).toContain("Source-Commit: s2-dirty");
    expect(last!.files.sort()).toEqual([
      "argocd/project-globex.yaml",
      "argocd/project-initech.yaml",
      "tenants/acme/quota.yaml",
      "tenants/globex/namespace.yaml",
      "tenants/initech/namespace.yaml",
    ]);
    expect((await treeFiles(repo)).sort()).toEqual(["README.md", ...Object.keys(next)].sort());
    expect(await showFile(repo, "tenants/acme/quota.yaml")).toBe("hard: { cpu: 4 }\n");
  });

  it("fails with the repo named when the deployment repo does not exist, and publishes nothing", async () => {
    const tree = await box.tree("r1", rendered({ acme }));
    const missing = path.join(box.root, "missing.git");
    await expect(
      publishRendered({ repo: missing, branch: "main", files: await readRenderedTree(tree), source: "s1" }),
    ).rejects.toThrow(`cannot reach the deployment repo ${missing}`);
  });

  it("two publishers racing from two processes both land, neither forced over the other", async () => {
    const repo = await box.bare("deploy.git");
    await publishRendered({
      repo,
      branch: "main",
      files: await readRenderedTree(await box.tree("base", rendered({ acme }))),
      source: "s0",
    });
    const [base] = await history(repo);

    const trees = {
      a: await box.tree("ra", rendered({ acme, "tenant-a": globex })),
      b: await box.tree("rb", rendered({ acme, "tenant-b": globex })),
    };
    const results = (await race(repo, trees)).map((r) => JSON.parse(r.stdout) as { attempts: number });

    expect(results.map((r) => r.attempts).sort()).toEqual([1, 2]);
    const commits = await history(repo);
    expect(commits).toHaveLength(3);
    expect(commits[2]!.hash).toBe(base!.hash);
    expect(commits.map((c) => c.message.match(/Source-Commit: (\S+)/)?.[1]).sort()).toEqual([
      "s0",
      "source-a",
      "source-b",
    ]);
    const files = await treeFiles(repo);
    expect(files).toContain("tenants/tenant-a/namespace.yaml");
    expect(files).toContain("tenants/tenant-b/namespace.yaml");
    // The rebased commit was reworded to what it does on the new tip: it adds only its own tenant.
    for (const commit of commits.slice(0, 2)) {
      const racer = commit.message.includes("source-a") ? "a" : "b";
      expect(commit.message.split("\n")[0]).toBe(`neurallog publish: add tenant-${racer}`);
    }
  });

  it("a racing publisher that rendered the same file differently pushes nothing and says why", async () => {
    const repo = await box.bare("deploy.git");
    await publishRendered({
      repo,
      branch: "main",
      files: await readRenderedTree(await box.tree("base", rendered({ acme }))),
      source: "s0",
    });
    const quota = (cpu: number) => ({ acme: { ...acme, "quota.yaml": `hard: { cpu: ${cpu} }\n` } });
    const trees = {
      a: await box.tree("ra", rendered(quota(5))),
      b: await box.tree("rb", rendered(quota(6))),
    };
    const [a, b] = await race(repo, trees);

    expect([a!.code, b!.code].sort()).toEqual([0, 1]);
    const loser = a!.code === 0 ? b! : a!;
    expect(loser.stderr).toContain(
      "a concurrent publish changed the same files differently (tenants/acme/quota.yaml); nothing was pushed",
    );
    const commits = await history(repo);
    expect(commits).toHaveLength(2);
    const winner = a!.code === 0 ? "a" : "b";
    expect(await showFile(repo, "tenants/acme/quota.yaml")).toBe(
      `hard: { cpu: ${winner === "a" ? 5 : 6} }\n`,
    );
  });
});
