/**
 * Creation-time refusal of webhook targets inside the cluster: a rule whose URL is an internal address literal, or
 * whose host resolves to one now, is a 400 naming the URL and why. This is a courtesy to the admin who wrote it;
 * the guard that holds is the connect-time lookup in webhook.ts (a name may resolve elsewhere later).
 */
import { lookup } from "node:dns/promises";
import type { Rule, RuleValidationError } from "../../../contracts/rules/rule-schema.ts";
import {
  parseAddress,
  refusedReason,
  type AllowedCidr,
} from "../../../contracts/network/internal-address.ts";
import { literalTargetRefused } from "./webhook.ts";
import { redactUrl } from "./action-worker.ts";

/** A slow resolver must not hold an API request; an unresolved name is judged at connect time. */
const LOOKUP_TIMEOUT_MS = 2_000;

async function resolvedRefusal(
  host: string,
  allowInternal: readonly AllowedCidr[],
): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), LOOKUP_TIMEOUT_MS);
  });
  try {
    const addresses = await Promise.race([lookup(host, { all: true }).catch(() => undefined), timeout]);
    for (const a of addresses ?? []) {
      const parsed = parseAddress(a.address);
      const reason = parsed && refusedReason(parsed, allowInternal);
      if (reason) return `${host} resolves to ${reason}`;
    }
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

export async function webhookTargetErrors(
  rule: Pick<Rule, "actions">,
  allowInternal: readonly AllowedCidr[],
): Promise<RuleValidationError[]> {
  const errors: RuleValidationError[] = [];
  await Promise.all(
    (rule.actions ?? []).map(async (action, i) => {
      if (!action.url) return;
      const reason =
        literalTargetRefused(action.url, allowInternal) ??
        (await resolvedRefusal(new URL(action.url).hostname, allowInternal));
      if (reason) {
        errors.push({
          path: `/actions/${i}/url`,
          message: `${redactUrl(action.url)} is refused: ${reason}; webhooks may reach internal addresses only through the tenant's server.webhooks.allowInternal`,
        });
      }
    }),
  );
  return errors.sort((a, b) => a.path.localeCompare(b.path));
}
