/**
 * The composition root of server extensions: the rules engine, actions and MCP add themselves here. The core
 * server knows only the `ServerExtension` contract (extension.ts).
 */
import type { FastifyBaseLogger } from "fastify";
import type { Redis } from "ioredis";
import type { Authenticator } from "./auth/authenticator.ts";
import { queryStats } from "./query/log-stats.ts";
import { mcpExtension } from "./mcp/mcp-extension.ts";
import { alertingExtension } from "./alerting/alerting-extension.ts";
import { queryLogs } from "./query/query-logs.ts";
import { tenantKeys } from "./storage/keys.ts";
import type { ServerConfig } from "./config/config.ts";
import type { ExtensionContext, ServerExtension } from "./extension.ts";

export function createExtensionContext(
  config: ServerConfig,
  redis: Redis,
  logger: FastifyBaseLogger,
  auth: Authenticator,
): ExtensionContext {
  return {
    config,
    redis,
    logger,
    auth,
    keys: tenantKeys(config.tenant),
    queryLogs: (query) => queryLogs(redis, config.tenant, query),
    queryStats: (query) => queryStats(redis, config.tenant, query),
  };
}

export function defaultExtensions(ctx: ExtensionContext): ServerExtension[] {
  const alerting = alertingExtension(ctx);
  return [alerting, mcpExtension(ctx, alerting.alerting)];
}
