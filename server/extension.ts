/**
 * How capabilities beyond ingestion and query (the rule engine, actions, MCP) plug into the server without the
 * core knowing them. The composition root passes a list of extensions to `buildApp`.
 */
import type { FastifyInstance } from "fastify";
import type { StoredLogEntry } from "./logs/log-entry.ts";

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
