/**
 * Two real `neurallog server` processes sharing one real redis-server and the same rules file from git: a
 * frequency rule whose threshold only the two processes' logs together reach fires exactly one alert and one
 * signed webhook delivery to a real HTTP server, and its resolution is delivered exactly once.
 */
import { createHmac } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startWebhookReceiver, type WebhookReceiver } from "../support/alerting-harness.ts";
import { startRedisServer, type RedisServerHandle } from "../support/redis-server.ts";
import { REQUEST_TIMEOUT_MS, SpawnedServers, type ServerProcess } from "../support/server-process.ts";
import { API_KEYS, INGEST_KEY, READ_KEY, bearer } from "./harness.ts";

const TENANT = "acme";
const RULE_ID = "checkout-errors";
const SECRET_ENV = "NEURALLOG_WEBHOOK_TEST_SECRET";
const SECRET = "processes-webhook-secret-0123456789";
/** Each process alone sees half of it: only shared window state in Redis reaches the threshold. */
const THRESHOLD = 6;

let redisServer: RedisServerHandle;
let hook: WebhookReceiver;
let dir: string;
let a: ServerProcess;
let b: ServerProcess;
const servers = new SpawnedServers();

beforeAll(async () => {
  redisServer = await startRedisServer();
  hook = await startWebhookReceiver();
  dir = await mkdtemp(join(tmpdir(), "nl-alerting-processes-"));
  const rulesFile = join(dir, "rules.json");
  await writeFile(
    rulesFile,
    JSON.stringify([
      {
        id: RULE_ID,
        name: "checkout errors",
        type: "frequency",
        when: { level: "error" },
        window: "3s",
        threshold: THRESHOLD,
        severity: "critical",
        // From git the secret comes from the environment, never from the file.
        actions: [{ type: "webhook", url: hook.url, secretEnv: SECRET_ENV }],
      },
    ]),
  );
  const options = {
    redisUrl: redisServer.url,
    tenant: TENANT,
    apiKeys: API_KEYS,
    // The receiver listens on loopback, which webhooks reach only through the allow-list.
    env: {
      NEURALLOG_RULES_FILE: rulesFile,
      [SECRET_ENV]: SECRET,
      NEURALLOG_ALLOW_INTERNAL_WEBHOOKS: "127.0.0.1/32",
    },
  };
  [a, b] = await Promise.all([servers.start(options), servers.start(options)]);
});
afterAll(async () => {
  await servers.killAll();
  await hook?.close();
  await redisServer?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function sendError(server: ServerProcess, n: number): Promise<void> {
  const res = await fetch(`${server.url}/api/v1/logs`, {
    method: "POST",
    headers: { ...bearer(INGEST_KEY), "content-type": "application/x-ndjson" },
    body: JSON.stringify({ level: "error", message: `card declined ${n}`, service: "checkout" }) + "\n",
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  expect(res.status, await res.text()).toBeLessThan(300);
}

async function alertsOf(server: ServerProcess): Promise<{ id: string; status: string }[]> {
  const res = await fetch(`${server.url}/api/v1/alerts?ruleId=${RULE_ID}`, {
    headers: bearer(READ_KEY),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { alerts: { id: string; status: string }[] }).alerts;
}

const events = (): string[] => hook.received.map((r) => (JSON.parse(r.body) as { event: string }).event);

describe("two server processes, one Redis", () => {
  it("fire one alert and one signed webhook per firing, and deliver its resolution once", async () => {
    // Alternately to both processes; the rule is evaluated before the 2xx, so below the threshold nothing fired.
    for (let n = 0; n < THRESHOLD - 1; n++) await sendError(n % 2 === 0 ? a : b, n);
    expect(await alertsOf(a)).toEqual([]);
    await sendError(b, THRESHOLD - 1);

    const [delivery] = await eventually(() => hook.received.length >= 1 && hook.received);
    const firing = JSON.parse(delivery!.body) as { alert: { id: string } };
    expect(firing).toMatchObject({
      event: "firing",
      tenant: TENANT,
      alert: { ruleId: RULE_ID, status: "firing", severity: "critical" },
    });
    const [t, v1] = String(delivery!.headers["x-neurallog-signature"]).split(",");
    const expected = createHmac("sha256", SECRET)
      .update(`${t!.slice(2)}.${delivery!.body}`)
      .digest("hex");
    expect(v1).toBe(`v1=${expected}`);

    for (const server of [a, b]) expect(await alertsOf(server)).toMatchObject([{ id: firing.alert.id }]);

    // The 3 s window drains; either process's sweep resolves the alert, and only one delivers it.
    await eventually(() => hook.received.length >= 2, 15_000);
    expect(JSON.parse(hook.received[1]!.body)).toMatchObject({
      event: "resolved",
      alert: { id: firing.alert.id, status: "resolved" },
    });
    // Give a duplicate (the other process's sweep or worker, a redelivered job) the chance to show up.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(events()).toEqual(["firing", "resolved"]);
    for (const server of [a, b])
      expect(await alertsOf(server)).toMatchObject([{ id: firing.alert.id, status: "resolved" }]);
  });
});
