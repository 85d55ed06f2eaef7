/**
 * How a `*.cluster.test.ts` file reaches the cluster that global-setup.ts started: a KubeConfig loaded from the
 * kubeconfig it provided, and a short random suffix so concurrently running test files never share a namespace.
 */
import { randomBytes } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";
import { inject } from "vitest";

export function clusterKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(inject("kubeconfig"));
  return kc;
}

/** A name unique to this test run, valid as a DNS label part: `${prefix}-${6 hex}`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}
