/**
 * `npm run bench:diff`: `neurallog diff` as users run it (a fresh process each time) over a tenants repo of 1000
 * generated tenants with one of them changed: once with an empty render cache, then three times warm. Prints
 * each run; the last line is `diff: 1000 tenants, 1 changed, S s (warm)` (the median warm run).
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { simpleGit } from "simple-git";
import { renderTenantFile } from "../gitops/tenant-scaffold.ts";

const TENANTS = 1000;
const WARM_RUNS = 3;
const PLANS = ["small", "standard", "large"];
const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** A run that takes longer than this is broken, not slow. */
const RUN_TIMEOUT_MS = 300_000;
const run = promisify(execFile);

function generate(dir: string): void {
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(ROOT, "tenants/_platform.yaml"), join(dir, "_platform.yaml"));
  for (let i = 0; i < TENANTS; i++) {
    const name = `t${String(i).padStart(4, "0")}`;
    const text = renderTenantFile({
      name,
      plan: PLANS[i % PLANS.length]!,
      planNames: PLANS,
      owners: [{ kind: "Group", name: `${name}-team` }],
      baseDomain: "logs.example.com",
      schemaPath: "../schemas/tenant.schema.json",
    });
    writeFileSync(join(dir, `${name}.yaml`), text);
  }
}

async function diffOnce(
  tenants: string,
  env: NodeJS.ProcessEnv,
): Promise<{ seconds: number; summary: string }> {
  const started = performance.now();
  const result = await run(process.execPath, [join(ROOT, "bin/neurallog.ts"), "diff", "--tenants", tenants], {
    env,
    timeout: RUN_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((error: { code?: number; stdout?: string; stderr?: string }) => {
    // Exit 2 means "changes", which is what this bench expects.
    if (error.code === 2 && error.stdout !== undefined) return { stdout: error.stdout };
    throw new Error(`neurallog diff failed: ${error.stderr ?? String(error)}`, { cause: error });
  });
  const seconds = (performance.now() - started) / 1000;
  const summary = result.stdout.trim().split("\n").at(-1) ?? "";
  if (!summary.includes("0 added, 1 changed, 0 removed of 1000 tenants")) {
    throw new Error(`unexpected diff result: ${summary}`);
  }
  return { seconds, summary };
}

const work = mkdtempSync(join(tmpdir(), "nl-bench-diff-"));
try {
  const repo = join(work, "tenants-repo");
  const tenants = join(repo, "tenants");
  let started = performance.now();
  generate(tenants);
  const git = simpleGit(repo);
  await git.init(["--initial-branch=main"]);
  await git.add(".");
  await git.raw([
    "-c",
    "user.name=bench",
    "-c",
    "user.email=bench@localhost",
    "commit",
    "-q",
    "-m",
    "1000 tenants",
  ]);
  console.log(
    `generated and committed ${TENANTS} tenants in ${((performance.now() - started) / 1000).toFixed(2)} s`,
  );

  const changed = join(tenants, "t0500.yaml");
  writeFileSync(
    changed,
    readFileSync(changed, "utf8").replace(
      "  # redis:\n  #   storage: { size: 10Gi }",
      "  redis:\n    storage: { size: 100Gi }",
    ),
  );

  const env = { ...process.env, NEURALLOG_CACHE_DIR: join(work, "cache") };
  started = performance.now();
  const cold = await diffOnce(tenants, env);
  console.log(`cold cache: ${cold.seconds.toFixed(2)} s  (${cold.summary})`);
  const warm: number[] = [];
  for (let i = 0; i < WARM_RUNS; i++) {
    const { seconds } = await diffOnce(tenants, env);
    warm.push(seconds);
    console.log(`warm run ${i + 1}: ${seconds.toFixed(2)} s`);
  }
  const median = [...warm].sort((a, b) => a - b)[Math.floor(warm.length / 2)]!;
  console.log(`diff: ${TENANTS} tenants, 1 changed, ${median.toFixed(2)} s (warm)`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
