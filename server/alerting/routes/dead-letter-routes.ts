/**
 * `/api/v1/dead-letters`: HTTP deliveries that failed for good, newest first (read); replay one through the action
 * queue, or delete it (admin). See actions/dead-letters.ts for how they are written.
 */
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import type { ExtensionContext } from "../../extension.ts";
import type { Alerting } from "../alerting.ts";
import { Conflict, NotFound } from "./rule-errors.ts";
import { typeboxCompiler } from "./route-validation.ts";

const STREAM_ID = "^[0-9]{1,20}-[0-9]{1,20}$";
const IdParams = Type.Object({ id: Type.String({ pattern: STREAM_ID, description: "dead letter id" }) });
const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: "Default 20" })),
  cursor: Type.Optional(
    Type.String({ pattern: STREAM_ID, description: "from the previous page's nextCursor" }),
  ),
});

export async function deadLetterRoutes(
  app: FastifyInstance,
  ctx: ExtensionContext,
  alerting: Alerting,
): Promise<void> {
  app.setValidatorCompiler(typeboxCompiler);
  const read = ctx.auth.requireScope("read");
  const admin = ctx.auth.requireScope("admin");
  const tags = ["dead-letters"];

  app.get(
    "/api/v1/dead-letters",
    {
      onRequest: read,
      schema: {
        tags,
        summary: "Webhook and Slack deliveries that failed every attempt, newest first",
        querystring: ListQuery,
      },
    },
    async (request) => alerting.deadLetters.list(request.query as { limit?: number; cursor?: string }),
  );

  app.post(
    "/api/v1/dead-letters/:id/replay",
    {
      onRequest: admin,
      schema: {
        tags,
        summary:
          "Deliver a dead letter again to its rule's action as the rule has it now; the entry leaves the stream",
        params: IdParams,
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const entry = await alerting.deadLetters.get(id);
      if (entry) {
        const action = alerting.store.get(entry.ruleId)?.actions?.[entry.actionIndex];
        if (action?.type !== "webhook" && action?.type !== "slack") {
          throw new Conflict(
            `rule "${entry.ruleId}" has no webhook or slack action ${entry.actionIndex} any more; delete the dead letter instead`,
          );
        }
      }
      const result = await alerting.deadLetters.replay(id);
      if (result.status === "missing") throw new NotFound(`no dead letter "${id}"`);
      return reply.status(202).send({ id, status: result.status, jobId: result.jobId });
    },
  );

  app.delete(
    "/api/v1/dead-letters/:id",
    {
      onRequest: admin,
      schema: { tags, summary: "Delete a dead letter without delivering it", params: IdParams },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!(await alerting.deadLetters.remove(id))) throw new NotFound(`no dead letter "${id}"`);
      return reply.status(204).send();
    },
  );
}
