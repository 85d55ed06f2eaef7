/**
 * `/mcp`: the MCP server over Streamable HTTP, both the 2026-07-28 protocol (stateless per-request envelope) and
 * the 2025-era handshake most clients still speak (served statelessly), through the official SDK's handler. The
 * server's API keys authenticate it like every other route (before the body is read); tools check the read/admin
 * scope per call; each request of a JSON-RPC batch counts against the key's rate limit (batch-rate.ts).
 */
import { toNodeHandler } from "@modelcontextprotocol/node";
import { createMcpHandler, type AuthInfo } from "@modelcontextprotocol/server";
import type { ServerExtension } from "../extension.ts";
import type { ExtensionContext } from "../extension.ts";
import type { Alerting } from "../alerting/alerting.ts";
import { meterBatch, withRefusals } from "./batch-rate.ts";
import { buildMcpServer } from "./mcp-tools.ts";

export function mcpExtension(ctx: ExtensionContext, alerting: () => Alerting): ServerExtension {
  const handler = createMcpHandler(
    (request) => buildMcpServer({ ctx, alerting }, new Set(request.authInfo?.scopes ?? [])),
    { legacy: "stateless", onerror: (error) => ctx.logger.debug({ err: error }, "MCP request rejected") },
  );
  const nodeOptions = { onerror: (error: Error) => ctx.logger.error({ err: error }, "MCP handler failed") };
  const serve = toNodeHandler(handler, nodeOptions);
  return {
    name: "mcp",
    async register(app) {
      app.route({
        method: ["GET", "POST", "DELETE"],
        url: "/mcp",
        schema: { summary: "Model Context Protocol (Streamable HTTP)", tags: ["mcp"], hide: false },
        onRequest: ctx.auth.requireScope("read"),
        handler: async (request, reply) => {
          const principal = request.principal!;
          // The SDK reads `req.auth`; the key itself never goes further than the authenticator.
          const auth: AuthInfo = {
            token: "[redacted]",
            clientId: principal.name,
            scopes: [...principal.scopes],
          };
          Object.assign(request.raw, { auth });
          const { body, refused } = meterBatch(request.body, principal.name, (calls) =>
            ctx.auth.admitCalls(request, calls),
          );
          const answer = refused.length
            ? toNodeHandler(
                { fetch: async (req, options) => withRefusals(await handler.fetch(req, options), refused) },
                nodeOptions,
              )
            : serve;
          reply.hijack();
          await answer(request.raw as Parameters<typeof serve>[0], reply.raw, body);
        },
      });
    },
    stop: () => handler.close(),
  };
}
