/**
 * Every regular expression a user writes (rule conditions from the API, MCP, the admin API and rules in git) is
 * compiled here, by RE2JS: a pure-JS port of RE2 whose matching is linear in the text for any pattern, so a
 * pattern such as `^(.|.)*QQQQ$` cannot freeze the event loop the way a backtracking `RegExp` does (6.7 s on 27
 * characters). ADR 0008 records the choice and the figures (`npm run bench:regex`).
 *
 * The syntax is RE2's (https://github.com/google/re2/wiki/Syntax): what it cannot run in linear time
 * (backreferences, lookahead, lookbehind) is refused with a message saying so, never silently approximated.
 */
import { RE2JS, RE2JSException } from "re2js";

/** A compiled pattern: `test` is true when it matches anywhere in the text, as `RegExp.prototype.test`. */
export interface UserRegex {
  test(text: string): boolean;
}

export type UserRegexResult = { ok: true; regex: UserRegex } | { ok: false; problem: string };

/**
 * The largest compiled program accepted. Matching costs program size × text length; ordinary patterns compile to
 * 10–100 instructions, while `[a-z]{1000}[0-9]{1000}` (2,002) took 0.3 s on 5,000 characters.
 */
export const MAX_REGEX_PROGRAM = 500;

/** What RE2 cannot express, recognised before parsing so the message says why rather than "invalid escape". */
const UNSUPPORTED: [RegExp, string][] = [
  [/\\[1-9]|\\k</, "backreferences (\\1, \\k<name>) are not supported"],
  [/\(\?<?[=!]/, "lookahead and lookbehind ((?=…), (?!…), (?<=…), (?<!…)) are not supported"],
];

const SYNTAX = "the RE2 syntax, which matches in linear time";

export function compileUserRegex(pattern: string, ignoreCase: boolean): UserRegexResult {
  for (const [construct, why] of UNSUPPORTED) {
    if (construct.test(pattern))
      return { ok: false, problem: `unsupported regular expression: ${why} (${SYNTAX})` };
  }
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern, ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (error) {
    if (!(error instanceof RE2JSException)) throw error;
    return {
      ok: false,
      problem: `invalid regular expression (${SYNTAX}): ${error.message.replace(/^error parsing regexp: /, "")}`,
    };
  }
  const size = (compiled.re2().prog as { inst: unknown[] }).inst.length;
  if (size > MAX_REGEX_PROGRAM) {
    return {
      ok: false,
      problem: `regular expression too large: it compiles to ${size} instructions, more than ${MAX_REGEX_PROGRAM} (large repeat counts such as {1000} multiply its size); shorten it`,
    };
  }
  return { ok: true, regex: compiled };
}
