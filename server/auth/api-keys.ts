/**
 * API keys: parsed from NEURALLOG_API_KEYS (or the file it names), held only as SHA-256 digests, and resolved
 * from a presented key in constant time (every key is compared, with `timingSafeEqual`, whatever matches).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { RateLimit } from "./token-bucket.ts";

export const SCOPES = ["ingest", "read", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyRecord {
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
  /** SHA-256 of the key. */
  readonly digest: Buffer;
  /** Token bucket per key and server process; absent means unlimited. */
  readonly rateLimit?: RateLimit;
}

/** Who made a request: the key's name and scopes, never the key. */
export interface ApiPrincipal {
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
}

const KeyEntry = z.strictObject({
  name: z.string().min(1).max(128),
  key: z
    .string()
    .min(16, "must be at least 16 characters")
    .refine((k) => !k.startsWith("sha256:") || /^sha256:[0-9a-fA-F]{64}$/.test(k), {
      message: "sha256: must be followed by 64 hex digits",
    }),
  scopes: z.array(z.enum(SCOPES)).min(1),
  rateLimit: z
    .strictObject({
      requestsPerSecond: z.number().positive(),
      burst: z.number().int().positive().optional(),
    })
    .optional(),
});

export function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

export function parseApiKeys(text: string): { keys: ApiKeyRecord[]; problems: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { keys: [], problems: [`not valid JSON: ${(error as Error).message}`] };
  }
  const result = z.array(KeyEntry).min(1, "at least one key is required").safeParse(json);
  if (!result.success) {
    return {
      keys: [],
      problems: result.error.issues.map(
        (i) => `${i.path.length ? `[${i.path.join(".")}] ` : ""}${i.message}`,
      ),
    };
  }
  const problems: string[] = [];
  const names = new Set<string>();
  const keys = result.data.map((entry, index) => {
    if (names.has(entry.name)) problems.push(`[${index}] duplicate key name "${entry.name}"`);
    names.add(entry.name);
    const digest = entry.key.startsWith("sha256:")
      ? Buffer.from(entry.key.slice(7), "hex")
      : sha256(entry.key);
    const rate = entry.rateLimit;
    return {
      name: entry.name,
      scopes: new Set(entry.scopes),
      digest,
      ...(rate
        ? {
            rateLimit: {
              perSecond: rate.requestsPerSecond,
              burst: rate.burst ?? Math.ceil(rate.requestsPerSecond),
            },
          }
        : {}),
    };
  });
  return { keys, problems };
}

/** Returns the key whose digest matches, comparing against every key so timing does not reveal which. */
export function findKey(keys: readonly ApiKeyRecord[], presented: string): ApiKeyRecord | undefined {
  const digest = sha256(presented);
  let found: ApiKeyRecord | undefined;
  for (const key of keys) {
    if (timingSafeEqual(key.digest, digest) && !found) found = key;
  }
  return found;
}
