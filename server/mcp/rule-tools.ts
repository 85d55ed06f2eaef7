/** MCP tools over the alert rules: list them, create one, replay stored logs through one before creating it. */
import { Type } from "typebox";
import { RuleSchema } from "../../contracts/rules/rule-schema.ts";
import { MAX_TEST_LOGS } from "../alerting/engine/rule-tester.ts";
import {
  compactAlert,
  compactRule,
  defineTool,
  Time,
  toolTime,
  ToolInputError,
  type McpDeps,
  type McpTool,
} from "./tool-kit.ts";

const NoInput = Type.Object({}, { additionalProperties: false });
const CreateRuleInput = Type.Object({ rule: RuleSchema }, { additionalProperties: false });
const TestRuleInput = Type.Object(
  {
    rule: RuleSchema,
    from: Time,
    to: Type.Optional(Time),
    maxLogs: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TEST_LOGS })),
  },
  { additionalProperties: false },
);

export function ruleTools({ alerting, now = Date.now }: McpDeps): McpTool[] {
  return [
    defineTool({
      name: "list_rules",
      scope: "read",
      description: "The alert rules: from git (read-only) and created through the API",
      input: NoInput,
      run: async () => ({ rules: alerting().rules().map(compactRule) }),
    }),
    defineTool({
      name: "create_rule",
      scope: "admin",
      description:
        "Create an alert rule. Types: any, frequency, flatline, spike, new_value, cardinality, change, aggregate",
      input: CreateRuleInput,
      readOnly: false,
      run: async (a) => compactRule(await alerting().store.create(a.rule)),
    }),
    defineTool({
      name: "test_rule",
      scope: "read",
      description:
        "Replay stored logs of a time range through a rule (not saved) and list the alerts it would have fired",
      input: TestRuleInput,
      async run(a) {
        const t = now();
        const from = toolTime(a.from, t, "from")!;
        const to = toolTime(a.to, t, "to") ?? t;
        if (to <= from) throw new ToolInputError("to: must be after from");
        const result = await alerting().testRule({ rule: a.rule, from, to, maxLogs: a.maxLogs });
        return {
          logsEvaluated: result.logsEvaluated,
          truncated: result.truncated,
          wouldFire: result.alerts.length,
          alerts: result.alerts.slice(0, 50).map(compactAlert),
          ...(result.alerts.length > 50
            ? { more: `${result.alerts.length - 50} more alerts truncated` }
            : {}),
        };
      },
    }),
  ];
}
