/**
 * `neurallog <command>`: one entry for every job. Each command lives in `cli/commands/<name>.ts` and exports
 * `run(argv): Promise<number>` (the exit code). Commands are loaded lazily so `neurallog validate` does not pay
 * for the server's or the controller's imports.
 */
import { enableCompileCache } from "node:module";
import { UsageError } from "./args.ts";

type CommandModule = { run(argv: string[]): Promise<number> };

/**
 * Commands people and CI run again and again on one machine (validate, synth, diff...) use Node's module compile
 * cache: the TypeScript stripping and V8 compilation of their modules (cdk8s' 2 MB of Kubernetes types among them)
 * is kept under the OS temp folder and skipped on later runs (~0.2 s of CPU per run, more with synth's threads).
 * The long-running programs (server, controller, backup) start once per pod with an empty /tmp: the cache would
 * only cost them a write into a size-limited volume.
 */
const CACHED_COMMANDS = new Set(["validate", "synth", "diff", "publish", "tenant", "status"]);

function useCompileCache(): void {
  const cache = enableCompileCache();
  // Worker threads (synth's render threads) inherit it through the environment.
  if (cache.directory) process.env.NODE_COMPILE_CACHE ??= cache.directory;
}

// Add a line here when a command lands (keep the order of DESIGN.md's public contract).
const commands: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  validate: {
    summary: "validate [--tenants DIR]: schema and semantic checks, FILE:LINE:COL errors",
    load: () => import("./commands/validate.ts"),
  },
  synth: {
    summary: "synth [--tenants DIR] [--out DIR]: renders OUT/tenants/<name>/, OUT/argocd/, OUT/platform/",
    load: () => import("./commands/synth.ts"),
  },
  diff: {
    summary:
      "diff [--base REF] [--format text|markdown]: what a change does to the rendered manifests, per tenant",
    load: () => import("./commands/diff.ts"),
  },
  publish: {
    summary: "publish --repo URL_OR_PATH [--branch B]: commits rendered manifests to the deployment repo",
    load: () => import("./commands/publish.ts"),
  },
  tenant: {
    summary: "tenant new NAME [--plan P]: scaffolds a tenant file",
    load: () => import("./commands/tenant.ts"),
  },
  server: {
    summary: "runs the NeuralLog server (env: see server/README.md)",
    load: () => import("./commands/server.ts"),
  },
  controller: {
    summary:
      "controller [--kubeconfig PATH] [--mode report-only|self-heal] [--port N]: runs the runtime controller",
    load: () => import("./commands/controller.ts"),
  },
  status: {
    summary:
      "status [TENANT] [--kubeconfig PATH] [-o table|json]: tenants' health as the controller judges it (drift, quota, backups)",
    load: () => import("./commands/status.ts"),
  },
  backup: {
    summary:
      "backup --redis-url URL --dest DIR [--tenant T] [--keep N] [--max-age D]: verified point-in-time Redis snapshot; prints its path last",
    load: () => import("./commands/backup.ts"),
  },
  backups: {
    summary:
      "backups --dest DIR [--tenant T]: the backups in DIR, newest first, with keys and whether each is good",
    load: () => import("./commands/backups.ts"),
  },
  restore: {
    summary: "restore --redis-url URL --from FILE: verifies a snapshot, then loads it into a running Redis",
    load: () => import("./commands/restore.ts"),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return ["usage: neurallog <command> [options]", "", "commands:", ...lines].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 1;
  }
  const command = commands[name];
  if (!command) {
    console.error(`neurallog: unknown command "${name}"\n\n${usage()}`);
    return 1;
  }
  if (CACHED_COMMANDS.has(name)) useCompileCache();
  try {
    return await (await command.load()).run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`neurallog ${name}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
