/**
 * `neurallog controller [--kubeconfig PATH] [--mode report-only|self-heal] [--port N]`: runs the runtime
 * controller (controller/README.md) until SIGTERM or SIGINT. In-cluster credentials by default.
 *
 * Environment (what the platform Deployment sets): NEURALLOG_CONTROLLER_MODE, NEURALLOG_METRICS_PORT,
 * POD_NAME (leader election identity), POD_NAMESPACE (namespace of the Lease; default neurallog-system), HOST
 * (listen address of the HTTP port, default 0.0.0.0; as the server's HOST, e.g. 127.0.0.1 in tests).
 * Flags win over the environment.
 */
import { parseFlags, UsageError } from "../args.ts";
import { loadKubeConfig } from "../kube-config.ts";

const USAGE =
  "usage: neurallog controller [--kubeconfig PATH] [--mode report-only|self-heal] [--port N] [--tenant-selector S]\n" +
  "  --kubeconfig  kubeconfig file (default: in-cluster service account)\n" +
  "  --mode        report-only (default; Argo CD owns reverting) or self-heal (restore drifted objects)\n" +
  "                (env NEURALLOG_CONTROLLER_MODE)\n" +
  "  --port        port for /metrics, /healthz, /status (default 8081; env NEURALLOG_METRICS_PORT)\n" +
  "  --tenant-selector SELECTOR  look after only tenant namespaces that also match this label selector\n" +
  "Environment: POD_NAME (leader identity), POD_NAMESPACE (Lease namespace, default neurallog-system),\n" +
  "  HOST (listen address of the HTTP port, default 0.0.0.0)";

const MODES = ["report-only", "self-heal"] as const;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    kubeconfig: { type: "string" },
    mode: { type: "string" },
    port: { type: "string" },
    "tenant-selector": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const mode = values.mode ?? process.env.NEURALLOG_CONTROLLER_MODE ?? "report-only";
  if (!(MODES as readonly string[]).includes(mode)) {
    throw new UsageError(`--mode must be one of ${MODES.join(", ")}, got "${mode}"\n${USAGE}`);
  }
  const portText = values.port ?? process.env.NEURALLOG_METRICS_PORT ?? "8081";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65_535) {
    throw new UsageError(`--port must be a port number (1-65535), got "${portText}"`);
  }

  const kubeConfig = await loadKubeConfig(values.kubeconfig);

  const { startController } = await import("../../controller/main.ts");
  const controller = await startController({
    kubeConfig,
    mode: mode as (typeof MODES)[number],
    port,
    ...(process.env.HOST ? { host: process.env.HOST } : {}),
    leaseNamespace: process.env.POD_NAMESPACE ?? "neurallog-system",
    ...(process.env.POD_NAME ? { identity: process.env.POD_NAME } : {}),
    ...(values["tenant-selector"] ? { tenantSelector: values["tenant-selector"] } : {}),
  });
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  // Releasing the Lease lets the next replica lead at once instead of after the lease duration.
  await controller.stop();
  return 0;
}
