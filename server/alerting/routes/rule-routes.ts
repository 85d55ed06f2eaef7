/**
 * `/api/v1/rules`: CRUD (admin to change, read to look), `POST /api/v1/rules/test` (replay over stored logs),
 * `GET /api/v1/rules/:id/history` (fired/resolved events and action deliveries), `POST /api/v1/rules/:id/silence`.
 */
import type { FastifyInstance, onRequestAsyncHookHandler } from "fastify";
import { Type } from "typebox";
import { BadRequest } from "../../errors.ts";
import type { ExtensionContext } from "../../extension.ts";
import type { Alerting } from "../alerting.ts";
import { httpError, NotFound, timeParam } from "./rule-errors.ts";
import { deliveries, ruleEvents } from "../engine/rule-history.ts";
import { RuleSchema, type Rule } from "../../../contracts/rules/rule-schema.ts";
import { MAX_TEST_LOGS } from "../engine/rule-tester.ts";
import { redactRule } from "../../../contracts/rules/rule-validation.ts";
import { typeboxCompiler } from "./route-validation.ts";
import type { RuleErrorState } from "../engine/rule-evaluation-errors.ts";

const IdParams = Type.Object({ id: Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }) });
const Time = Type.Union([Type.Number(), Type.String()], { description: "epoch ms or ISO 8601" });
export const RuleTestBody = Type.Object(
  {
    rule: RuleSchema,
    from: Time,
    to: Type.Optional(Time),
    maxLogs: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TEST_LOGS })),
  },
  { additionalProperties: false },
);
export const SilenceBody = Type.Object(
  { until: Time, reason: Type.Optional(Type.String({ maxLength: 500 })) },
  { additionalProperties: false },
);

export function silenceUntil(body: unknown): number {
  const until = timeParam((body as { until?: unknown } | undefined)?.until, "until");
  if (until === undefined) throw new BadRequest("until: required (epoch ms or ISO 8601)");
  return until;
}

/** `errorCount` always; `lastError` `{ message, at }` once the rule failed to evaluate. */
function withErrors(state: RuleErrorState | undefined): RuleErrorState {
  return state ?? { errorCount: 0 };
}

/** The error fields are output only: a rule read with GET can be sent back as it is. */
function withoutErrors(body: unknown): unknown {
  if (!body || typeof body !== "object" || Array.isArray(body)) return body;
  const { errorCount: _count, lastError: _last, ...rule } = body as Record<string, unknown>;
  return rule;
}

async function mapped<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw httpError(error);
  }
}

export async function ruleRoutes(
  app: FastifyInstance,
  ctx: ExtensionContext,
  alerting: Alerting,
): Promise<void> {
  app.setValidatorCompiler(typeboxCompiler);
  const routes: RuleRouteContext = {
    app,
    ctx,
    alerting,
    read: ctx.auth.requireScope("read"),
    admin: ctx.auth.requireScope("admin"),
    find: (id) => {
      const rule = alerting.store.get(id);
      if (!rule) throw new NotFound(`no rule "${id}"`);
      return rule;
    },
  };
  ruleCollectionRoutes(routes);
  ruleItemRoutes(routes);
}

const tags = ["rules"];

interface RuleRouteContext {
  readonly app: FastifyInstance;
  readonly ctx: ExtensionContext;
  readonly alerting: Alerting;
  readonly read: onRequestAsyncHookHandler;
  readonly admin: onRequestAsyncHookHandler;
  /** The rule, or a 404. */
  find(id: string): Rule;
}

/** `/api/v1/rules` itself: list, create, and test a rule without saving it. */
function ruleCollectionRoutes({ app, alerting, read, admin }: RuleRouteContext): void {
  app.get(
    "/api/v1/rules",
    { onRequest: read, schema: { tags, summary: "List rules (git and API), with their evaluation errors" } },
    async () => {
      const errors = await alerting.ruleErrors.all();
      return {
        rules: alerting.rules().map((rule) => ({ ...redactRule(rule), ...withErrors(errors.get(rule.id)) })),
      };
    },
  );

  app.post(
    "/api/v1/rules",
    { onRequest: admin, schema: { tags, summary: "Create a rule", body: RuleSchema } },
    async (request, reply) => {
      const rule = await mapped(() => alerting.store.create(withoutErrors(request.body)));
      return reply.status(201).send(redactRule(rule));
    },
  );

  app.post(
    "/api/v1/rules/test",
    {
      onRequest: read,
      schema: {
        tags,
        summary: "Replay stored logs of a time range through a rule; returns what would have fired",
        body: RuleTestBody,
      },
    },
    async (request) => {
      const body = (request.body ?? {}) as {
        rule?: unknown;
        from?: unknown;
        to?: unknown;
        maxLogs?: unknown;
      };
      const from = timeParam(body.from, "from");
      if (from === undefined) throw new BadRequest("from: required (epoch ms or ISO 8601)");
      const to = timeParam(body.to, "to") ?? Date.now();
      if (to <= from) throw new BadRequest("to: must be after from");
      if (body.maxLogs !== undefined && (!Number.isInteger(body.maxLogs) || (body.maxLogs as number) < 1)) {
        throw new BadRequest("maxLogs: must be a positive integer");
      }
      const result = await mapped(() =>
        alerting.testRule({ rule: body.rule, from, to, maxLogs: body.maxLogs as number | undefined }),
      );
      return { ...result, rule: redactRule(result.rule) };
    },
  );
}

/** `/api/v1/rules/:id`: get, replace, delete, its history, silencing it. */
function ruleItemRoutes({ app, ctx, alerting, read, admin, find }: RuleRouteContext): void {
  app.get(
    "/api/v1/rules/:id",
    {
      onRequest: read,
      schema: { tags, summary: "One rule, with its evaluation errors (count, last)", params: IdParams },
    },
    async (request) => {
      const rule = find((request.params as { id: string }).id);
      return { ...redactRule(rule), ...withErrors(await alerting.ruleErrors.get(rule.id)) };
    },
  );

  app.put(
    "/api/v1/rules/:id",
    {
      onRequest: admin,
      schema: { tags, summary: "Replace a rule (not rules from git)", params: IdParams, body: RuleSchema },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return redactRule(await mapped(() => alerting.store.replace(id, withoutErrors(request.body))));
    },
  );

  app.delete(
    "/api/v1/rules/:id",
    {
      onRequest: admin,
      schema: { tags, summary: "Delete a rule (not rules from git); its alerts resolve", params: IdParams },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      await mapped(() => alerting.store.remove(id));
      await alerting.ruleErrors.forget(id);
      return reply.status(204).send();
    },
  );
  app.get(
    "/api/v1/rules/:id/history",
    {
      onRequest: read,
      schema: {
        tags,
        summary: "Execution history: fired/realerted/resolved events and action deliveries, newest first",
        params: IdParams,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const limit = (request.query as { limit?: number }).limit ?? 100;
      const [events, sent] = await Promise.all([
        ruleEvents(ctx.redis, alerting.keys, id, limit),
        deliveries(ctx.redis, alerting.keys, { ruleId: id }, limit),
      ]);
      return { ruleId: id, events, deliveries: sent };
    },
  );

  app.post(
    "/api/v1/rules/:id/silence",
    {
      onRequest: admin,
      schema: {
        tags,
        summary: "Silence a rule until a time: alerts are recorded, not notified",
        params: IdParams,
        body: SilenceBody,
      },
    },
    async (request) => {
      const rule = find((request.params as { id: string }).id);
      const until = silenceUntil(request.body);
      await alerting.alerts.silence(rule.id, until);
      return { ruleId: rule.id, silencedUntil: until };
    },
  );
}
