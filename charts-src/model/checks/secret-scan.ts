/**
 * No secret values in git: tenant and platform files reference Secrets by name, nothing more. This scan looks
 * at every string in a file, whatever its schema, so it also covers the loosely typed parts (`rules`).
 * Findings never repeat the value.
 */
import type { Diagnostic } from "../diagnostic.ts";
import type { FieldPath } from "../field-path.ts";
import type { YamlSource } from "../yaml-source.ts";
import { reportFor, type Report } from "./report.ts";

/** Field names whose literal value is a credential (compared lowercase, without '-', '_', '.'). */
const SECRET_KEY =
  /(password|passwd|passphrase|pwd|secret|secretkey|token|apikey|accesskey|privatekey|credentials?)$/;

const SECRET_VALUES: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/, "an AWS access key"],
  [/\bBearer\s+[A-Za-z0-9\-._~+/]{16,}=*/i, "a bearer token"],
  [/\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}/, "a GitHub token"],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/, "a Slack token"],
  [/\bsk_(live|test)_[A-Za-z0-9]{16,}/, "a Stripe key"],
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, "a JSON Web Token"],
  [/\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, "a URL with a password in it"],
];

/** Whether a field of this name holds a credential when its value is a literal. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.toLowerCase().replace(/[-_.\s]/g, ""));
}

/** What kind of secret `value` looks like, or undefined. */
export function secretKind(value: string): string | undefined {
  return SECRET_VALUES.find(([pattern]) => pattern.test(value))?.[1];
}

export function scanForSecrets(value: unknown, report: Report, path: FieldPath = []): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => scanForSecrets(item, report, [...path, i]));
  } else if (typeof value === "object" && value !== null) {
    for (const [key, child] of Object.entries(value)) {
      const childPath = [...path, key];
      if (isLiteral(child) && isSecretKey(key)) {
        report.error(
          childPath,
          `"${key}" holds a literal value: secrets never go into tenant files; store it in a Secret and reference the Secret by name`,
        );
      } else scanForSecrets(child, report, childPath);
    }
  } else if (typeof value === "string") {
    const kind = secretKind(value);
    if (kind)
      report.error(
        path,
        `looks like ${kind}: secrets never go into tenant files; store it in a Secret and reference the Secret by name`,
      );
  }
}

function isLiteral(value: unknown): boolean {
  return (typeof value === "string" && value.trim() !== "") || typeof value === "number";
}

/** The scan over a whole parsed file. */
export function secretDiagnostics(source: YamlSource): Diagnostic[] {
  const report = reportFor(source);
  scanForSecrets(source.value, report);
  return report.diagnostics;
}
