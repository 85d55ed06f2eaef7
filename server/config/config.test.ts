import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";
import { findKey, sha256 } from "../auth/api-keys.ts";

const KEYS = JSON.stringify([{ name: "ci", key: "plain-key-0123456789", scopes: ["ingest"] }]);

function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("configuration", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig({ NEURALLOG_TENANT: "acme", NEURALLOG_API_KEYS: KEYS });
    expect(config).toMatchObject({
      port: 8080,
      redisUrl: "redis://127.0.0.1:6379",
      tenant: "acme",
      retention: { maxAgeSeconds: 7 * 86400, maxEntries: 1_000_000 },
      workers: 1,
      maxTailClients: 64,
      maxTailClientsPerKey: 16,
    });
  });

  it("keeps a key's live-tail cap within the server's", () => {
    const base = { NEURALLOG_TENANT: "acme", NEURALLOG_API_KEYS: KEYS };
    expect(loadConfig({ ...base, NEURALLOG_MAX_TAIL_CLIENTS: "8" }).maxTailClientsPerKey).toBe(8);
    expect(
      problems({ ...base, NEURALLOG_MAX_TAIL_CLIENTS: "8", NEURALLOG_MAX_TAIL_CLIENTS_PER_KEY: "9" }),
    ).toEqual(["NEURALLOG_MAX_TAIL_CLIENTS_PER_KEY=9 must not exceed NEURALLOG_MAX_TAIL_CLIENTS=8"]);
  });

  it("reports every problem at once, naming its variable, without echoing REDIS_URL", () => {
    const found = problems({
      PORT: "80a",
      REDIS_URL: "http://:secret@redis:6379",
      NEURALLOG_TENANT: "Acme_Corp",
      NEURALLOG_API_KEYS: JSON.stringify([{ name: "a", key: "short", scopes: ["write"] }]),
      NEURALLOG_RETENTION_MAX_AGE: "7 days",
    });
    expect(found).toEqual([
      'PORT="80a" must be an integer from 1 to 65535',
      "REDIS_URL must start with redis:// or rediss://",
      'NEURALLOG_TENANT="Acme_Corp" must be a DNS label ([a-z0-9-], ≤ 63)',
      expect.stringMatching(/^NEURALLOG_API_KEYS: \[0\.key\] must be at least 16 characters/),
      expect.stringMatching(/^NEURALLOG_API_KEYS: \[0\.scopes\.0\]/),
      'NEURALLOG_RETENTION_MAX_AGE="7 days" must be a duration of at least 60s like 12h, 7d, 2w',
    ]);
    expect(found.join("\n")).not.toContain("secret");
  });

  it("requires a tenant and keys, and reads keys from a file holding hashes", async () => {
    expect(problems({})).toEqual([
      "NEURALLOG_TENANT is required (the tenant name, a DNS label)",
      "NEURALLOG_API_KEYS or NEURALLOG_API_KEYS_FILE is required",
    ]);
    const dir = await mkdtemp(join(tmpdir(), "nl-keys-"));
    const file = join(dir, "keys.json");
    const hash = sha256("hashed-key-0123456789").toString("hex");
    await writeFile(file, JSON.stringify([{ name: "h", key: `sha256:${hash}`, scopes: ["read"] }]));
    const config = loadConfig({ NEURALLOG_TENANT: "acme", NEURALLOG_API_KEYS_FILE: file });
    expect(findKey(config.apiKeys, "hashed-key-0123456789")?.name).toBe("h");
    expect(findKey(config.apiKeys, "hashed-key-012345678")).toBeUndefined();
    expect(
      problems({ NEURALLOG_TENANT: "acme", NEURALLOG_API_KEYS_FILE: join(dir, "missing.json") })[0],
    ).toMatch(/NEURALLOG_API_KEYS_FILE \(.*missing\.json\): cannot read/);
  });
});
