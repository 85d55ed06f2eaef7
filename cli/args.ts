/** Small, strict flag parsing shared by every command: unknown flags are errors, not silently ignored. */
import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {}

export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

export function parseFlags<T extends FlagSpec>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
}
