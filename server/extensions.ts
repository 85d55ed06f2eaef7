/**
 * The composition root of server extensions: the rules engine, actions and MCP add themselves here. The core
 * server knows only the `ServerExtension` contract (extension.ts).
 */
import type { FastifyBaseLogger } from "fastify";
import type { Redis } from "ioredis";
import type { Authenticator } from "./auth/authenticator.ts";
import { queryStats } from "./query/log-stats.ts";
import { mcpExtension } from "./mcp/mcp-extension.ts";
import { alertingExtension } from "./rules/alerting.ts";
import { queryLogs } from "./query/query-logs.ts";
import { tenantKeys } from "./storage/keys.ts";
import type { ServerConfig } from "./config/config.ts";
import type { ServerExtension } from "./extension.ts";
import type { LogPage, LogQuery } from "./query/query-logs.ts";
import type { LogStats, StatsQuery } from "./query/log-stats.ts";
import type { TenantKeys } from "./storage/keys.ts";

export interface ExtensionContext {
  readonly config: ServerConfig;
  /** The server's ioredis client (no offline queue; commands fail fast while Redis is down). */
  readonly redis: Redis;
  readonly logger: FastifyBaseLogger;
  /** The tenant's key layout; derive new keys from `keys.prefix` so they keep the `{tenant}` hash tag. */
  readonly keys: TenantKeys;
  /** Bound to this tenant: the same search as `GET /api/v1/logs`. */
  queryLogs(query: LogQuery): Promise<LogPage>;
  /** Bound to this tenant: the same counts as `GET /api/v1/stats`. */
  queryStats(query: StatsQuery): Promise<LogStats>;
  /** `auth.requireScope("read" | "admin")` as a route preHandler. */
  readonly auth: Authenticator;
}

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
