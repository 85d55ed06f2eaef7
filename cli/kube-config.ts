/**
 * The KubeConfig of the commands that talk to a cluster (`controller`, `status`): the file `--kubeconfig` names,
 * else the in-cluster service account; anything else is a usage error that says what to pass.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { UsageError } from "./args.ts";

export async function loadKubeConfig(file: string | undefined): Promise<KubeConfig> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kubeConfig = new KubeConfig();
  try {
    if (file) kubeConfig.loadFromFile(file);
    else if (process.env.KUBERNETES_SERVICE_HOST) kubeConfig.loadFromCluster();
    else throw new UsageError("not running in a cluster: pass --kubeconfig PATH");
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot load the kubeconfig: ${(error as Error).message}`, { cause: error });
  }
  if (!kubeConfig.getCurrentCluster()) throw new UsageError("the kubeconfig has no current cluster");
  return kubeConfig;
}
