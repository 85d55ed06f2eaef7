/** What the server's route plugins share: built once by `buildApp`, passed to each plugin as its options. */
import type { Redis } from "ioredis";
import type { Authenticator } from "./auth/authenticator.ts";
import type { ServerConfig } from "./config/config.ts";
import type { ServerExtension } from "./extension.ts";
import type { ServerMetrics } from "./ops/metrics.ts";
import type { LogStore } from "./storage/log-store.ts";
import type { TailSlots } from "./tail/tail-slots.ts";

export interface Lifecycle {
  /** Set on SIGTERM: /readyz turns 503 so the load balancer drains us; live tails end. */
  shuttingDown: boolean;
  /** Called on shutdown so long-lived responses (live tail) end and `app.close()` can finish. */
  readonly onShutdown: Set<() => void>;
}

export interface ServerContext {
  readonly config: ServerConfig;
  readonly redis: Redis;
  readonly store: LogStore;
  readonly auth: Authenticator;
  readonly metrics: ServerMetrics;
  readonly lifecycle: Lifecycle;
  readonly extensions: readonly ServerExtension[];
  /** The live tails' caps, shared by every kind of tail (SSE, Loki's WebSocket tail). */
  readonly tailSlots: TailSlots;
}
