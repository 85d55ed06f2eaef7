/** `neurallog server`: runs the NeuralLog server; configured by the environment (see server/README.md). */
import { parseFlags } from "../args.ts";

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { help: { type: "boolean", short: "h" } });
  if (values.help) {
    console.log(
      "usage: neurallog server\n\nEnvironment: PORT (8080), REDIS_URL, NEURALLOG_TENANT, NEURALLOG_API_KEYS or\n" +
        "NEURALLOG_API_KEYS_FILE, NEURALLOG_RETENTION_MAX_AGE (7d), NEURALLOG_RETENTION_MAX_ENTRIES (1000000).\n" +
        "See server/README.md.",
    );
    return 0;
  }
  // First, before the server's modules load: a SIGTERM without a handler would kill the process by the signal.
  const { stopOnSignals } = await import("../../server/ops/stop-signal.ts");
  const stop = stopOnSignals();
  const { ConfigError, loadConfig } = await import("../../server/config/config.ts");
  try {
    const config = loadConfig();
    const cluster = (await import("node:cluster")).default;
    if (config.workers > 1 && cluster.isPrimary) {
      // The primary only forks and supervises: it never loads the app.
      const { runPrimary } = await import("../../server/ops/worker-cluster.ts");
      const { createLogger } = await import("../../server/ops/logger.ts");
      return await runPrimary(config.workers, createLogger(config.logLevel), stop);
    }
    const { runServerProcess } = await import("../../server/main.ts");
    return await runServerProcess(config, stop);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`neurallog server: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
