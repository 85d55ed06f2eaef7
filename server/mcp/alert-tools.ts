/** MCP tools over the alerts: list them, acknowledge one. */
import { Type } from "typebox";
import { compactAlert, defineTool, ToolInputError, type McpDeps, type McpTool } from "./tool-kit.ts";

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
  ];
}
