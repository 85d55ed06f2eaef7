/**
 * Server configuration: read once from the environment at boot, validated as a whole (every problem reported at
 * once, each naming its variable), then passed around typed. The two other reads of `process.env` are the
 * alerting extension's default rules file (`NEURALLOG_RULES_FILE`) and webhook secrets named by `secretEnv`, read
 * when an action runs so a rotated secret needs no restart.
 */
import { readFileSync } from "node:fs";
import ipaddr from "ipaddr.js";
import { RedisPasswordError, redisPasswordFromEnv } from "../../contracts/redis-password.ts";
import { parseDurationMs } from "../../contracts/duration.ts";
import { TENANT_NAME } from "../storage/keys.ts";
import { parseApiKeys, type ApiKeyRecord } from "../auth/api-keys.ts";
import type { RateLimit } from "../auth/token-bucket.ts";

export interface IngestLimits {
  /** Request body on the wire (compressed or not). Default 16 MiB; env NEURALLOG_MAX_BODY_BYTES. */
  readonly maxBodyBytes: number;
  /** Body after gunzip / snappy. Default 64 MiB. */
  readonly maxDecompressedBytes: number;
  /** Entries in one request. Default 10,000; env NEURALLOG_MAX_BATCH_ENTRIES. */
  readonly maxBatchEntries: number;
  /** One NDJSON line or one bulk document. Default 512 KiB. */
  readonly maxLineBytes: number;
  /** One message, in UTF-16 code units. Default 128 Ki. */
  readonly maxMessageLength: number;
  /** Fields of one entry after flattening. Default 200. */
  readonly maxFields: number;
  /** One field name after flattening. Default 256. */
  readonly maxFieldNameLength: number;
  /** One field value (strings). Default 16 Ki. */
  readonly maxFieldValueLength: number;
  /**
   * Memory all ingestion requests may hold at once while decoding (ingest/ingest-memory.ts); beyond it a request
   * gets 503 + Retry-After. Default: 40% of the smaller of V8's heap limit and the container's memory limit; env
   * NEURALLOG_INGEST_MEMORY_BYTES.
   */
  readonly ingestMemoryBytes?: number;
}

export interface ServerConfig {
  /** Default 8080. */
  readonly port: number;
  /** Default 0.0.0.0 (inside a pod). */
  readonly host: string;
  /** Default redis://127.0.0.1:6379. */
  readonly redisUrl: string;
  /**
   * Peers (IPs or CIDRs) whose X-Forwarded-For names the client: the ingress controller. Empty (the default): the
   * TCP peer is the client. env NEURALLOG_TRUSTED_PROXIES, comma-separated.
   */
  readonly trustedProxies: readonly string[];
  /** From the file REDIS_PASSWORD_FILE names (the rendered pods mount the tenant's Secret); none when unset. */
  readonly redisPassword?: string;
  readonly tenant: string;
  readonly apiKeys: readonly ApiKeyRecord[];
  /**
   * Requests without a valid key per client address: a burst (default 20; env NEURALLOG_AUTH_FAILURE_BURST), then
   * a refill rate (default 10 a minute; env NEURALLOG_AUTH_FAILURES_PER_MINUTE); past it, 429.
   */
  readonly authFailureLimit: RateLimit;
  readonly retention: {
    /** Logs older than this are trimmed. Default 7 days; env NEURALLOG_RETENTION_MAX_AGE (`30s`, `12h`, `7d`, `2w`). */
    readonly maxAgeSeconds: number;
    /** Stream cap (approximate, trimmed per macro node). Default 1,000,000; env NEURALLOG_RETENTION_MAX_ENTRIES. */
    readonly maxEntries: number;
  };
  readonly limits: IngestLimits;
  /** Most concurrent live tails of the server (each holds a Redis connection). Default 64; env NEURALLOG_MAX_TAIL_CLIENTS. */
  readonly maxTailClients: number;
  /**
   * Most concurrent live tails of one API key, so one key cannot take them all. Default 16 (or the server's cap
   * when smaller); env NEURALLOG_MAX_TAIL_CLIENTS_PER_KEY, at most NEURALLOG_MAX_TAIL_CLIENTS.
   */
  readonly maxTailClientsPerKey: number;
  /** Grace for in-flight requests on SIGTERM. Default 10 s. */
  readonly shutdownGraceMs: number;
  /** Server processes sharing the port (node:cluster). Default 1; env NEURALLOG_WORKERS. */
  readonly workers: number;
  /** pino level of the server's own logs. Default info; env LOG_LEVEL. */
  readonly logLevel: string;
}

export const DEFAULT_LIMITS: IngestLimits = {
  maxBodyBytes: 16 * 1024 * 1024,
  maxDecompressedBytes: 64 * 1024 * 1024,
  maxBatchEntries: 10_000,
  maxLineBytes: 512 * 1024,
  maxMessageLength: 128 * 1024,
  maxFields: 200,
  maxFieldNameLength: 256,
  maxFieldValueLength: 16 * 1024,
};

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * One reader per settings group, each returning its part of the config and pushing what is wrong onto `problems`
 * instead of throwing, so one boot names every bad variable (listed group by group).
 */
export function loadConfig(env: Env = process.env): ServerConfig {
  const problems: string[] = [];
  const settings: Settings = { env, problems, integer: integerSetting(env, problems) };
  const config: ServerConfig = {
    ...serverSettings(settings),
    ...authSettings(settings),
    retention: retentionSettings(settings),
    limits: ingestLimits(settings),
    ...tailSettings(settings),
    ...processSettings(settings),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** What a settings group reads from, and where it reports. */
interface Settings {
  readonly env: Env;
  readonly problems: string[];
  readonly integer: (name: string, fallback: number, min: number, max: number) => number;
}

/** An integer variable within bounds; a bad one is a problem, and the fallback stands in so reading goes on. */
function integerSetting(env: Env, problems: string[]): Settings["integer"] {
  return (name, fallback, min, max) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name}="${raw}" must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
}

/** Where the server listens and behind which proxies, the Redis it stores in, and the one tenant it serves. */
function serverSettings({
  env,
  problems,
  integer,
}: Settings): Pick<
  ServerConfig,
  "port" | "host" | "redisUrl" | "redisPassword" | "trustedProxies" | "tenant"
> {
  const port = integer("PORT", 8080, 1, 65_535);
  const redisUrl = env.REDIS_URL || "redis://127.0.0.1:6379";
  if (!/^rediss?:\/\//.test(redisUrl))
    // The value is not echoed: it may hold the Redis password.
    problems.push("REDIS_URL must start with redis:// or rediss://");

  let redisPassword: string | undefined;
  try {
    redisPassword = redisPasswordFromEnv(env);
  } catch (error) {
    if (!(error instanceof RedisPasswordError)) throw error;
    problems.push(error.message);
  }

  const trustedProxies = (env.NEURALLOG_TRUSTED_PROXIES ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  for (const entry of trustedProxies) {
    if (!ipaddr.isValid(entry) && !ipaddr.isValidCIDR(entry))
      problems.push(`NEURALLOG_TRUSTED_PROXIES: "${entry}" is not an IP address or CIDR`);
  }

  const tenant = env.NEURALLOG_TENANT ?? "";
  if (!tenant) problems.push("NEURALLOG_TENANT is required (the tenant name, a DNS label)");
  else if (!TENANT_NAME.test(tenant))
    problems.push(`NEURALLOG_TENANT="${tenant}" must be a DNS label ([a-z0-9-], ≤ 63)`);

  return {
    port,
    host: env.HOST || "0.0.0.0",
    redisUrl,
    ...(redisPassword !== undefined ? { redisPassword } : {}),
    trustedProxies,
    tenant,
  };
}

/** Who may call: the API keys, and how fast a client without a valid one is turned away. */
function authSettings({
  env,
  problems,
  integer,
}: Settings): Pick<ServerConfig, "apiKeys" | "authFailureLimit"> {
  return {
    apiKeys: readApiKeys(env, problems),
    authFailureLimit: {
      burst: integer("NEURALLOG_AUTH_FAILURE_BURST", 20, 1, 1_000_000),
      perSecond: integer("NEURALLOG_AUTH_FAILURES_PER_MINUTE", 10, 1, 1_000_000) / 60,
    },
  };
}

function retentionSettings({ env, problems, integer }: Settings): ServerConfig["retention"] {
  return {
    maxAgeSeconds: retentionMaxAge(env, problems),
    maxEntries: integer("NEURALLOG_RETENTION_MAX_ENTRIES", 1_000_000, 1000, 1_000_000_000),
  };
}

/** The documented defaults, with the caps an operator may change; the memory budget is computed when unset. */
function ingestLimits({ env, integer }: Settings): IngestLimits {
  const ingestMemoryBytes = env.NEURALLOG_INGEST_MEMORY_BYTES
    ? integer("NEURALLOG_INGEST_MEMORY_BYTES", 0, 1024 * 1024, 1024 ** 4)
    : undefined;
  return {
    ...DEFAULT_LIMITS,
    maxBodyBytes: integer("NEURALLOG_MAX_BODY_BYTES", DEFAULT_LIMITS.maxBodyBytes, 1024, 1024 ** 3),
    maxBatchEntries: integer("NEURALLOG_MAX_BATCH_ENTRIES", DEFAULT_LIMITS.maxBatchEntries, 1, 1_000_000),
    ...(ingestMemoryBytes ? { ingestMemoryBytes } : {}),
  };
}

/** Live tails each hold a Redis connection: a cap for the server, and a smaller one per key within it. */
function tailSettings({
  problems,
  integer,
}: Settings): Pick<ServerConfig, "maxTailClients" | "maxTailClientsPerKey"> {
  const maxTailClients = integer("NEURALLOG_MAX_TAIL_CLIENTS", 64, 0, 10_000);
  const maxTailClientsPerKey = integer(
    "NEURALLOG_MAX_TAIL_CLIENTS_PER_KEY",
    Math.min(16, maxTailClients),
    0,
    10_000,
  );
  if (maxTailClientsPerKey > maxTailClients) {
    problems.push(
      `NEURALLOG_MAX_TAIL_CLIENTS_PER_KEY=${maxTailClientsPerKey} must not exceed NEURALLOG_MAX_TAIL_CLIENTS=${maxTailClients}`,
    );
  }
  return { maxTailClients, maxTailClientsPerKey };
}

/** How the process runs: its log level, its workers, and how long it drains on SIGTERM. */
function processSettings({
  env,
  problems,
  integer,
}: Settings): Pick<ServerConfig, "logLevel" | "shutdownGraceMs" | "workers"> {
  const logLevel = env.LOG_LEVEL || "info";
  if (!["trace", "debug", "info", "warn", "error", "fatal", "silent"].includes(logLevel)) {
    problems.push(`LOG_LEVEL="${logLevel}" must be one of trace, debug, info, warn, error, fatal, silent`);
  }
  return {
    shutdownGraceMs: integer("NEURALLOG_SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    workers: integer("NEURALLOG_WORKERS", 1, 1, 64),
    logLevel,
  };
}

/** The API keys, inline (`NEURALLOG_API_KEYS`) or from a mounted Secret file (`NEURALLOG_API_KEYS_FILE`). */
function readApiKeys(env: Env, problems: string[]): ApiKeyRecord[] {
  const inline = env.NEURALLOG_API_KEYS;
  const file = env.NEURALLOG_API_KEYS_FILE;
  if (inline && file) problems.push("set NEURALLOG_API_KEYS or NEURALLOG_API_KEYS_FILE, not both");
  else if (!inline && !file) problems.push("NEURALLOG_API_KEYS or NEURALLOG_API_KEYS_FILE is required");
  else {
    let text = inline;
    let origin = "NEURALLOG_API_KEYS";
    if (file) {
      origin = `NEURALLOG_API_KEYS_FILE (${file})`;
      try {
        text = readFileSync(file, "utf8");
      } catch (error) {
        problems.push(`${origin}: cannot read: ${(error as Error).message}`);
      }
    }
    if (text !== undefined) {
      const parsed = parseApiKeys(text);
      problems.push(...parsed.problems.map((p) => `${origin}: ${p}`));
      return parsed.keys;
    }
  }
  return [];
}

/** `NEURALLOG_RETENTION_MAX_AGE` in seconds (default 7 days), in the one duration syntax, at least 60 s. */
function retentionMaxAge(env: Env, problems: string[]): number {
  const rawAge = env.NEURALLOG_RETENTION_MAX_AGE;
  if (!rawAge) return 7 * 86_400;
  const ms = parseDurationMs(rawAge.trim());
  const seconds = ms === undefined ? undefined : ms / 1000;
  if (seconds === undefined || seconds < 60) {
    problems.push(
      `NEURALLOG_RETENTION_MAX_AGE="${rawAge}" must be a duration of at least 60s like 12h, 7d, 2w`,
    );
    return 7 * 86_400;
  }
  return seconds;
}
