/**
 * `npm run cluster:up` / `npm run cluster:down`: the test control plane for people (kubectl, debugging a
 * failing cluster test). `up` builds the binaries if the cache is cold, starts the cluster in the background
 * and prints its KUBECONFIG; `down` ends every process of it and removes its run directory. The watchdog of a
 * test run also uses `down` when the run died without tearing down.
 *
 *   node test/cluster/cluster-cli.ts up   [--run-dir DIR] [--nodes N]   (default DIR: <repo>/.tmp/cluster)
 *   node test/cluster/cluster-cli.ts down [--run-dir DIR]
 */
import { rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseFlags, UsageError } from "../../cli/args.ts";
import { ensureClusterBinaries } from "./binaries.ts";
import { startArgoCd } from "./argocd/argo-cd.ts";
import { kubeconfigPath, startControlPlane } from "./control-plane.ts";
import { REAL_NODE_BINARY_SETS, startRealNode, stopRealNode } from "./node/real-node.ts";
import { anyProcessRunning, stopProcessGroups } from "./process-groups.ts";

const defaultRunDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../.tmp/cluster");

async function up(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { "run-dir": { type: "string" }, nodes: { type: "string" } });
  const runDir = resolve(values["run-dir"] ?? defaultRunDir);
  const nodes = values.nodes === undefined ? 3 : Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50) throw new UsageError("--nodes must be 1..50");
  if (anyProcessRunning(runDir)) {
    console.log(`cluster already running in ${runDir}\nexport KUBECONFIG=${kubeconfigPath(runDir)}`);
    return 0;
  }
  const binaries = ensureClusterBinaries([...REAL_NODE_BINARY_SETS, "argocd"]);
  const cluster = await startControlPlane({ binaries, runDir, nodes, log: (line) => console.log(line) });
  await startArgoCd({
    binaries,
    runDir,
    kubeconfigPath: cluster.kubeconfigPath,
    log: (line) => console.log(line),
  });
  await startRealNode({
    binaries,
    runDir,
    kubeconfigPath: cluster.kubeconfigPath,
    log: (line) => console.log(line),
  });
  console.log(`export KUBECONFIG=${cluster.kubeconfigPath}\n(stop it with: npm run cluster:down)`);
  return 0;
}

async function down(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { "run-dir": { type: "string" } });
  const runDir = resolve(values["run-dir"] ?? defaultRunDir);
  // The real node first: its network namespace, veth and cgroups outlive its processes otherwise.
  for (const left of await stopRealNode(runDir)) console.error(`cluster: left behind: ${left}`);
  const killed = await stopProcessGroups(runDir);
  if (killed.length > 0) console.log(`cluster: ${killed.join(", ")} needed SIGKILL`);
  if (anyProcessRunning(runDir)) {
    console.error(`cluster: processes of ${runDir} are still running; see ${join(runDir, "pids")}`);
    return 1;
  }
  await rm(runDir, { recursive: true, force: true });
  console.log(`cluster in ${runDir} stopped`);
  return 0;
}

const [command, ...rest] = process.argv.slice(2);
const commands: Record<string, (argv: string[]) => Promise<number>> = { up, down };
const run = command === undefined ? undefined : commands[command];
if (!run) {
  console.error("usage: cluster-cli.ts up|down [--run-dir DIR] [--nodes N]");
  process.exitCode = 2;
} else {
  try {
    process.exitCode = await run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`cluster ${command}: ${error.message}`);
      process.exitCode = 2;
    } else {
      console.error(error);
      process.exitCode = 1;
    }
  }
}
