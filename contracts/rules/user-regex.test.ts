import { describe, expect, it } from "vitest";
import { compileUserRegex, MAX_REGEX_PROGRAM } from "./user-regex.ts";

const compiled = (pattern: string, ignoreCase = false) => {
  const result = compileUserRegex(pattern, ignoreCase);
  if (!result.ok) throw new Error(result.problem);
  return result.regex;
};
const problem = (pattern: string) => {
  const result = compileUserRegex(pattern, false);
  return result.ok ? undefined : result.problem;
};

describe("user regular expressions (RE2)", () => {
  it("answers the patterns of issue 12 correctly (a backtracking engine takes seconds on these texts)", () => {
    const dotOrDot = compiled("^(.|.)*QQQQ$");
    expect(dotOrDot.test("a".repeat(27))).toBe(false);
    expect(dotOrDot.test(`${"a".repeat(23)}QQQQ`)).toBe(true);
    const wordOrDigit = compiled("^(\\w|\\d)+$");
    expect(wordOrDigit.test(`${"1".repeat(5_000)}!`)).toBe(false);
    expect(wordOrDigit.test("1".repeat(5_000))).toBe(true);
  });

  it("matches anywhere in the text like RegExp.test, case-insensitively when asked", () => {
    expect(compiled("timeout|refused").test("connection refused by upstream")).toBe(true);
    expect(compiled("^timeout").test("a timeout")).toBe(false);
    expect(compiled("ERROR").test("an error")).toBe(false);
    expect(compiled("ERROR", true).test("an error")).toBe(true);
    expect(compiled("\\bcode=\\d{3}\\b").test("code=503 ")).toBe(true);
  });

  it("refuses backreferences and lookaround, saying why", () => {
    for (const pattern of ["(a)\\1", "(?<x>a)\\k<x>"]) {
      expect(problem(pattern)).toMatch(/^unsupported regular expression: backreferences .* RE2 syntax/);
    }
    for (const pattern of ["a(?=b)", "a(?!b)", "(?<=a)b", "(?<!a)b"]) {
      expect(problem(pattern)).toMatch(
        /^unsupported regular expression: lookahead and lookbehind .* RE2 syntax/,
      );
    }
  });

  it("reports RE2's own parse error for other invalid patterns", () => {
    expect(problem("(")).toBe(
      "invalid regular expression (the RE2 syntax, which matches in linear time): missing closing ): `(`",
    );
    expect(problem("a{1001}")).toMatch(/invalid repeat count/);
  });

  it("refuses patterns whose compiled program exceeds the size limit", () => {
    expect(problem("[a-z]{1000}")).toMatch(
      new RegExp(`compiles to \\d+ instructions, more than ${MAX_REGEX_PROGRAM}`),
    );
    expect(problem("[a-z]{100}")).toBeUndefined();
  });
});
