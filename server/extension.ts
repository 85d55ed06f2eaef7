/**
 * How capabilities beyond ingestion and query (the rule engine, actions, MCP) plug into the server without the
 * core knowing them. The composition root passes a list of extensions to `buildApp`.
 */
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import type { Authenticator } from "./auth/authenticator.ts";
import type { ServerConfig } from "./config/config.ts";
import type { StoredLogEntry } from "./logs/log-entry.ts";
import type { LogStats, StatsQuery } from "./query/log-stats.ts";
import type { LogPage, LogQuery } from "./query/query-logs.ts";
import type { TenantKeys } from "./storage/keys.ts";

export interface ServerExtension {
  readonly name: string;
  /** Registers routes and hooks on the app (e.g. `/api/v1/rules`, `/mcp`). */
  register?(app: FastifyInstance): Promise<void>;
  /**
   * Called for every accepted batch after Redis acknowledged the write and before the 2xx is sent. Must be
   * fast; slow work (webhooks) belongs on a queue. A throw turns the response into a 5xx, but the logs stay
   * stored (the client may retry; ids make duplicates visible).
   */
  onIngested?(entries: readonly StoredLogEntry[]): Promise<void>;
  /** Background work (timers, queue workers); started after the app listens. */
  start?(): Promise<void>;
  /** Stops background work; called on graceful shutdown before Redis closes. */
  stop?(): Promise<void>;
}

/** What an extension is given: the tenant's server, as `createExtensionContext` (extensions.ts) binds it. */
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
  /** `auth.requireScope("read" | "admin")` as a route onRequest hook (before the body is read). */
  readonly auth: Authenticator;
}
