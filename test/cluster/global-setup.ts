/**
 * vitest globalSetup of the `cluster` project (only `*.cluster.test.ts` files pay for it): builds the binaries
 * if the cache is cold, starts one control plane for the whole run and hands its kubeconfig to the tests
 * (`inject("kubeconfig")`, see cluster-access.ts). Teardown stops it; if vitest dies without tearing down, the
 * watchdog tied to this process does. Real Argo CD runs beside it (argocd/argo-cd.ts), stopped with it.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { ensureClusterBinaries } from "./binaries.ts";
import { startArgoCd } from "./argocd/argo-cd.ts";
import { startControlPlane } from "./control-plane.ts";
import { REAL_NODE_BINARY_SETS, startRealNodeOn } from "./node/real-node.ts";

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfig: string;
    argocdRedis: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const binaries = ensureClusterBinaries([...REAL_NODE_BINARY_SETS, "argocd"]);
  const log = (line: string) => console.log(line);
  const runDir = mkdtempSync(join(tmpdir(), "nl-cluster-"));
  const cluster = await startControlPlane({
    binaries,
    runDir,
    ownerPid: process.pid,
    log,
  });
  const argocd = await startArgoCd({
    binaries,
    runDir,
    kubeconfigPath: cluster.kubeconfigPath,
    log,
  });
  project.provide("kubeconfig", cluster.kubeconfigPath);
  project.provide("argocdRedis", argocd.redisAddress);
  // Also for programs the tests start (e.g. `neurallog controller`), which read it like kubectl does.
  process.env.KUBECONFIG = cluster.kubeconfigPath;
  // The real kubelet node beside the KWOK ones; the teardown it returns stops the node, then the cluster.
  return startRealNodeOn(cluster, binaries, log);
}
