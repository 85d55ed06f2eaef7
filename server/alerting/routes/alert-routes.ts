/** `/api/v1/alerts`: list and filter (read), one alert with its deliveries (read), acknowledge and silence (admin). */
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import type { ExtensionContext } from "../../extension.ts";
import type { Alerting } from "../alerting.ts";
import { NotFound, timeParam } from "./rule-errors.ts";
import { deliveries } from "../engine/rule-history.ts";
import { SilenceBody, silenceUntil } from "./rule-routes.ts";
import { typeboxCompiler } from "./route-validation.ts";
import { AlertFilterSchema, type AlertFilter } from "../engine/alert-store.ts";

const IdParams = Type.Object({ id: Type.String({ pattern: "^[0-9]{1,20}$" }) });
const ListQuery = Type.Object({
  ...AlertFilterSchema.properties,
  from: Type.Optional(Type.String({ description: "fired at or after: epoch ms or ISO 8601" })),
  to: Type.Optional(Type.String({ description: "fired at or before: epoch ms or ISO 8601" })),
});

export async function alertRoutes(
  app: FastifyInstance,
  ctx: ExtensionContext,
  alerting: Alerting,
): Promise<void> {
  app.setValidatorCompiler(typeboxCompiler);
  const read = ctx.auth.requireScope("read");
  const admin = ctx.auth.requireScope("admin");
  const tags = ["alerts"];
  const find = async (id: string) => {
    const alert = await alerting.alerts.get(id);
    if (!alert) throw new NotFound(`no alert "${id}"`);
    return alert;
  };

  app.get(
    "/api/v1/alerts",
    { onRequest: read, schema: { tags, summary: "Alerts, newest first, filtered", querystring: ListQuery } },
    async (request) => {
      const q = request.query as Omit<AlertFilter, "from" | "to"> & { from?: string; to?: string };
      return alerting.alerts.list({ ...q, from: timeParam(q.from, "from"), to: timeParam(q.to, "to") });
    },
  );

  app.get(
    "/api/v1/alerts/:id",
    { onRequest: read, schema: { tags, summary: "One alert with its action deliveries", params: IdParams } },
    async (request) => {
      const alert = await find((request.params as { id: string }).id);
      return { ...alert, deliveries: await deliveries(ctx.redis, alerting.keys, { alertId: alert.id }) };
    },
  );

  app.post(
    "/api/v1/alerts/:id/ack",
    {
      onRequest: admin,
      schema: { tags, summary: "Acknowledge: no more re-notifications while it fires", params: IdParams },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const alert = await alerting.alerts.acknowledge(id, request.principal?.name ?? "unknown");
      if (!alert) throw new NotFound(`no alert "${id}"`);
      return alert;
    },
  );

  app.post(
    "/api/v1/alerts/:id/silence",
    {
      onRequest: admin,
      schema: {
        tags,
        summary: "Silence this alert's group until a time",
        params: IdParams,
        body: SilenceBody,
      },
    },
    async (request) => {
      const alert = await find((request.params as { id: string }).id);
      const until = silenceUntil(request.body);
      await alerting.alerts.silence(alert.dedupKey, until);
      return { alertId: alert.id, dedupKey: alert.dedupKey, silencedUntil: until };
    },
  );
}
