/** MCP tools over the alerts: list them, acknowledge one, list the deliveries that failed for good. */
import { Type } from "typebox";
import {
  compactAlert,
  defineTool,
  ToolInputError,
  truncate,
  type McpDeps,
  type McpTool,
} from "./tool-kit.ts";

const ListAlertsInput = Type.Object(
  {
    status: Type.Optional(Type.Enum(["firing", "resolved"])),
    ruleId: Type.Optional(Type.String()),
    severity: Type.Optional(Type.Enum(["info", "warning", "critical"])),
    acknowledged: Type.Optional(Type.Boolean()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: "Default 20" })),
    cursor: Type.Optional(Type.String({ description: "nextCursor of the previous call" })),
  },
  { additionalProperties: false },
);
const ListDeadLettersInput = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: "Default 20" })),
    cursor: Type.Optional(
      Type.String({ pattern: "^[0-9]{1,20}-[0-9]{1,20}$", description: "nextCursor of the previous call" }),
    ),
  },
  { additionalProperties: false },
);
const AckInput = Type.Object(
  { id: Type.String({ pattern: "^[0-9]{1,20}$", description: "Alert id" }) },
  { additionalProperties: false },
);

export function alertTools({ alerting }: McpDeps): McpTool[] {
  return [
    defineTool({
      name: "list_alerts",
      scope: "read",
      description: "Alerts, newest first, optionally filtered",
      input: ListAlertsInput,
      async run(a) {
        const page = await alerting().alerts.list({ ...a, limit: a.limit ?? 20 });
        return {
          alerts: page.alerts.map(compactAlert),
          ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
        };
      },
    }),
    defineTool({
      name: "ack_alert",
      scope: "admin",
      description: "Acknowledge an alert: no more re-notifications while it fires",
      input: AckInput,
      readOnly: false,
      async run(a) {
        const alert = await alerting().alerts.acknowledge(a.id, "mcp");
        if (!alert) throw new ToolInputError(`no alert with id ${a.id}`);
        return compactAlert(alert);
      },
    }),
    defineTool({
      name: "list_dead_letters",
      scope: "read",
      description:
        "Webhook and Slack deliveries that failed every attempt, newest first (an admin replays one with " +
        "POST /api/v1/dead-letters/{id}/replay)",
      input: ListDeadLettersInput,
      async run(a) {
        const page = await alerting().deadLetters.list({ limit: a.limit ?? 20, cursor: a.cursor });
        return {
          deadLetters: page.deadLetters.map(({ payload, ...d }) => ({
            id: d.id,
            rule: d.ruleId,
            alertId: d.alertId,
            event: d.event,
            action: `${d.actionIndex}:${d.actionType}`,
            target: d.target,
            attempts: d.attempts,
            lastError: truncate(d.lastError, 300),
            firstAttemptAt: new Date(d.firstAttemptAt).toISOString(),
            lastAttemptAt: new Date(d.lastAttemptAt).toISOString(),
            ...(payload ? { reason: truncate(payload.alert.reason, 300) } : {}),
            ...(d.replays ? { replays: d.replays } : {}),
          })),
          ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
        };
      },
    }),
  ];
}
