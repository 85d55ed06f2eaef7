/**
 * The MCP server: what an AI model can do with a tenant's logs, rules and alerts. The tools are typed tables per
 * area (log-tools.ts, rule-tools.ts, alert-tools.ts; their input schemas are TypeBox, the rule schema the very one
 * the API enforces); results are compact JSON text (tool-kit.ts), lists are paged with a cursor.
 */
import { McpServer } from "@modelcontextprotocol/server";
import { alertTools } from "./alert-tools.ts";
import { logTools } from "./log-tools.ts";
import { ruleTools } from "./rule-tools.ts";
import { allowed, compactAlert, compactRule, toolGuard, type McpDeps } from "./tool-kit.ts";

export type { McpDeps, ToolScope } from "./tool-kit.ts";

export const SERVER_VERSION = "1.0.0";
/** 2026-07-28 first (served through `server/discover`), then the 2025 revisions the legacy handshake may pick. */
export const PROTOCOL_VERSIONS = ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"];

/** One server instance per request (stateless serving), bound to the caller's scopes. */
export function buildMcpServer(deps: McpDeps, scopes: ReadonlySet<string>): McpServer {
  const server = new McpServer(
    { name: "neurallog", version: SERVER_VERSION },
    {
      supportedProtocolVersions: PROTOCOL_VERSIONS,
      instructions:
        `Logs, alert rules and alerts of the NeuralLog tenant "${deps.ctx.config.tenant}". Start with get_log_stats or ` +
        "search_logs; get_log_context shows what surrounded an entry; test_rule before create_rule.",
    },
  );
  const guard = toolGuard(deps.ctx, scopes);
  for (const tool of [...logTools(deps), ...ruleTools(deps), ...alertTools(deps)])
    tool.register(server, guard);
  if (allowed(scopes, "read")) registerResources(server, deps);
  return server;
}

function registerResources(server: McpServer, { alerting }: McpDeps): void {
  const json = (uri: URL, value: unknown) => ({
    contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(value) }],
  });
  server.registerResource(
    "rules",
    "neurallog://rules",
    { title: "Alert rules", description: "The tenant's rule set", mimeType: "application/json" },
    async (uri) => json(uri, alerting().rules().map(compactRule)),
  );
  server.registerResource(
    "recent-alerts",
    "neurallog://alerts/recent",
    { title: "Recent alerts", description: "The 50 newest alerts", mimeType: "application/json" },
    async (uri) => json(uri, (await alerting().alerts.list({ limit: 50 })).alerts.map(compactAlert)),
  );
}
