/**
 * For tests: a server app with the alerting extension against a real Redis, built the way
 * server/main.ts builds it, and a real HTTP receiver for webhooks. Nothing is mocked.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { buildApp } from "../../server/app.ts";
import { createAuthenticator } from "../../server/auth/authenticator.ts";
import { loadConfig } from "../../server/config/config.ts";
import type { ServerExtension } from "../../server/extension.ts";
import type { ExtensionContext } from "../../server/extension.ts";
import { createExtensionContext } from "../../server/extensions.ts";
import { createLogger } from "../../server/ops/logger.ts";
import { createRedisClient } from "../../server/storage/redis-client.ts";
import type { AlertingOptions } from "../../server/alerting/alerting.ts";
import { alertingExtension, type AlertingExtension } from "../../server/alerting/alerting-extension.ts";

export const INGEST_KEY = "alerting-ingest-key-0123456789";
export const READ_KEY = "alerting-read-key-0123456789";
export const ADMIN_KEY = "alerting-admin-key-0123456789";
export const API_KEYS = JSON.stringify([
  { name: "shipper", key: INGEST_KEY, scopes: ["ingest"] },
  { name: "reader", key: READ_KEY, scopes: ["read"] },
  { name: "admin", key: ADMIN_KEY, scopes: ["admin"] },
]);
export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

export interface AlertingApp {
  readonly app: FastifyInstance;
  readonly redis: Redis;
  readonly ctx: ExtensionContext;
  readonly alerting: AlertingExtension;
  close(): Promise<void>;
}

export async function startAlertingApp(
  redisUrl: string,
  options: AlertingOptions = {},
  more: (ctx: ExtensionContext, alerting: AlertingExtension) => ServerExtension[] = () => [],
  tenant = "acme",
  apiKeys = API_KEYS,
): Promise<AlertingApp> {
  const config = loadConfig({
    REDIS_URL: redisUrl,
    NEURALLOG_TENANT: tenant,
    NEURALLOG_API_KEYS: apiKeys,
    LOG_LEVEL: "silent",
  });
  const redis = createRedisClient(config.redisUrl);
  redis.on("error", () => undefined);
  await new Promise<void>((resolve) =>
    redis.status === "ready" ? resolve() : redis.once("ready", () => resolve()),
  );
  const logger = createLogger("silent");
  const auth = createAuthenticator(config);
  const ctx = createExtensionContext(config, redis, logger, auth);
  const alerting = alertingExtension(ctx, options);
  const app = await buildApp({
    config,
    redis,
    extensions: [alerting, ...more(ctx, alerting)],
    loggerInstance: logger,
    auth,
  });
  await app.ready();
  return {
    app,
    redis,
    ctx,
    alerting,
    async close() {
      await app.close();
      redis.disconnect();
    },
  };
}

export interface ReceivedRequest {
  readonly at: number;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

/** A real HTTP server that records every request; `respond` decides each answer (default 200). */
export interface WebhookReceiver {
  readonly url: string;
  readonly received: ReceivedRequest[];
  respond: (request: ReceivedRequest, index: number, res: ServerResponse) => void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedRequest[] = [];
  const open = new Set<ServerResponse>();
  const receiver: WebhookReceiver = {
    url: "",
    received,
    respond: (_r, _i, res) => res.writeHead(200).end("ok"),
    close: async () => {
      for (const res of open) res.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const request = { at: Date.now(), headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      received.push(request);
      open.add(res);
      res.on("close", () => open.delete(res));
      receiver.respond(request, received.length - 1, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  (receiver as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return receiver;
}

/** Polls until `check` returns a value (not undefined/false), bounded by count and time. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000; i++) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
