import { describe, expect, it } from "vitest";
import type { Alert } from "../engine/alert-store.ts";
import { notification, slackMessage } from "./notification.ts";
import { backoffMs, signature } from "./webhook.ts";
import { createHmac } from "node:crypto";

const alert: Alert = {
  id: "7",
  ruleId: "api-errors",
  ruleName: "API errors",
  ruleType: "frequency",
  severity: "critical",
  status: "firing",
  dedupKey: 'api-errors|["api"]',
  group: { source: "api" },
  firedAt: Date.UTC(2026, 10, 27, 4, 0, 0),
  lastSeenAt: Date.UTC(2026, 10, 27, 4, 0, 0),
  reason: "12 matches in window (threshold 10)",
  example: { message: "upstream timed out" },
  count: 3,
  notifications: 1,
  silenced: false,
  acknowledged: false,
};

describe("notifications", () => {
  it("render a Slack-compatible message with text and blocks", () => {
    const msg = slackMessage(notification("acme", "firing", alert)) as {
      text: string;
      blocks: { text: { text: string } }[];
    };
    expect(msg.text).toBe(":rotating_light: [FIRING] API errors (source=api)");
    expect(msg.blocks[0]!.text.text).toContain("12 matches in window");
    expect(msg.blocks[0]!.text.text).toContain("> upstream timed out");
    const resolved = slackMessage(
      notification("acme", "resolved", { ...alert, status: "resolved", resolveReason: "condition cleared" }),
    ) as { text: string };
    expect(resolved.text).toMatch(/^:white_check_mark: \[RESOLVED\]/);
  });

  it("escape Slack control sequences from logs, so a log line cannot mention @channel or hide a link", () => {
    const hostile = {
      ...alert,
      ruleName: "rule <!here>",
      group: { source: "<!channel>" },
      reason: "a & b",
      example: { message: "<!channel> click <http://evil.example|your bank> 1 < 2 > 0 & done" },
    };
    const msg = slackMessage(notification("acme", "firing", hostile)) as {
      text: string;
      blocks: { text: { text: string } }[];
    };
    const body = msg.blocks[0]!.text.text;
    for (const text of [msg.text, body]) {
      expect(text).not.toMatch(/<!|<http/);
    }
    expect(msg.text).toBe(":rotating_light: [FIRING] rule &lt;!here&gt; (source=&lt;!channel&gt;)");
    expect(body).toContain(
      "> &lt;!channel&gt; click &lt;http://evil.example|your bank&gt; 1 &lt; 2 &gt; 0 &amp; done",
    );
    expect(body).toContain("a &amp; b");
  });

  it("sign the timestamp and body with HMAC-SHA256", () => {
    const body = '{"a":1}';
    expect(signature("secret-0123456789abcdef", body, 1_800_000_000)).toBe(
      `t=1800000000,v1=${createHmac("sha256", "secret-0123456789abcdef").update(`1800000000.${body}`).digest("hex")}`,
    );
  });

  it("back off exponentially with jitter, capped", () => {
    expect(backoffMs(1, 1000, 60_000, () => 0)).toBe(500);
    expect(backoffMs(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoffMs(4, 1000, 60_000, () => 1)).toBe(8000);
    expect(backoffMs(20, 1000, 60_000, () => 1)).toBe(60_000);
  });
});
