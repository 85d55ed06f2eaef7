/** The server's own structured logs: pino JSON on stdout, with secrets redacted wherever they would appear. */
import { pino, type Logger } from "pino";

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "neurallog-server" },
    redact: {
      paths: ["req.headers.authorization", "headers.authorization", "*.key", "apiKeys"],
      censor: "[redacted]",
    },
  });
}
