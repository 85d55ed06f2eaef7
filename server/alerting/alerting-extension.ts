/**
 * The `ServerExtension` that plugs the alerting runtime (alerting.ts) into the server: the rules file, the rule and
 * alert routes, evaluation of ingested batches, the sweep timer and the action queue worker. Kept apart from the
 * runtime so the routes can use the runtime without importing what registers them.
 */
import { alertRoutes } from "./routes/alert-routes.ts";
import type { ExtensionContext, ServerExtension } from "../extension.ts";
import { Alerting, type AlertingOptions } from "./alerting.ts";
import { ruleRoutes } from "./routes/rule-routes.ts";
import { deadLetterRoutes } from "./routes/dead-letter-routes.ts";
import { loadRulesFile } from "./engine/rule-store.ts";

export interface AlertingExtension extends ServerExtension {
  /** Set once `register` ran (the rules file is read there). */
  readonly alerting: () => Alerting;
}

export function alertingExtension(
  ctx: ExtensionContext,
  options: AlertingOptions = {
    rulesFile: process.env.NEURALLOG_RULES_FILE || undefined,
    allowInternalWebhooks: (process.env.NEURALLOG_ALLOW_INTERNAL_WEBHOOKS ?? "")
      .split(",")
      .filter((e) => e.trim()),
  },
): AlertingExtension {
  let alerting: Alerting | undefined;
  const get = (): Alerting => {
    if (!alerting) throw new Error("the alerting extension is not registered yet");
    return alerting;
  };
  return {
    name: "alerting",
    alerting: get,
    async register(app) {
      const fileRules = options.rulesFile ? await loadRulesFile(options.rulesFile) : [];
      alerting = new Alerting(ctx, options, fileRules, app.neurallog.metrics.registry);
      await app.register(async (scope) => {
        await ruleRoutes(scope, ctx, get());
        await alertRoutes(scope, ctx, get());
        await deadLetterRoutes(scope, ctx, get());
      });
    },
    onIngested: (entries) => get().onIngested(entries),
    start: () => get().start(),
    stop: async () => alerting?.stop(),
  };
}
