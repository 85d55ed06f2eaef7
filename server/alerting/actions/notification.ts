/**
 * What an action sends: one notification per alert event, in NeuralLog's JSON shape (webhook, pub/sub) or as a
 * Slack-compatible incoming-webhook message.
 */
import type { Alert } from "../engine/alert-store.ts";

export const ALERT_EVENTS = ["firing", "resolved"] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];

export interface Notification {
  readonly version: 1;
  readonly event: AlertEvent;
  readonly tenant: string;
  readonly alert: Alert;
  readonly sentAt: string;
}

export function notification(
  tenant: string,
  event: AlertEvent,
  alert: Alert,
  now = Date.now(),
): Notification {
  return { version: 1, event, tenant, alert, sentAt: new Date(now).toISOString() };
}

const SEVERITY_EMOJI: Record<string, string> = {
  info: ":information_source:",
  warning: ":warning:",
  critical: ":rotating_light:",
};

/**
 * Slack's control characters: `<!channel>` would notify everyone and `<http://x|y>` would render a link whose
 * text hides its target. Escaping &, < and > (Slack's own rule) leaves log text as text.
 */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function groupText(group: Record<string, unknown>): string {
  const parts = Object.entries(group).map(([k, v]) => `${escapeSlack(k)}=${escapeSlack(String(v))}`);
  return parts.length > 0 ? ` (${parts.join(", ")})` : "";
}

/** Slack incoming-webhook format (`text` for notifications and fallbacks, `blocks` for the message body). */
export function slackMessage(n: Notification): Record<string, unknown> {
  const { alert } = n;
  const title =
    n.event === "resolved"
      ? `:white_check_mark: [RESOLVED] ${escapeSlack(alert.ruleName)}${groupText(alert.group)}`
      : `${SEVERITY_EMOJI[alert.severity] ?? ":bell:"} [FIRING] ${escapeSlack(alert.ruleName)}${groupText(alert.group)}`;
  const example = alert.example as { message?: string } | undefined;
  const lines = [
    `*${title}*`,
    escapeSlack(alert.reason),
    `tenant \`${n.tenant}\` · alert ${alert.id} · since ${new Date(alert.firedAt).toISOString()}`,
  ];
  if (n.event === "resolved" && alert.resolveReason)
    lines.push(`resolved: ${escapeSlack(alert.resolveReason)}`);
  // The leading ">" is ours (a quote block); the cut comes before escaping, so it never lands inside an entity.
  if (example?.message) lines.push(`> ${escapeSlack(example.message.slice(0, 300))}`);
  return {
    text: title,
    blocks: [{ type: "section", text: { type: "mrkdwn", text: lines.join("\n") } }],
  };
}
