/**
 * `npm run bench:regex`: compile and match time of user regular expressions in the engine the server uses
 * (RE2JS, `contracts/rules/user-regex.ts`) against the built-in backtracking `RegExp`, for the patterns of issue 12
 * (which backtrack exponentially) and for ordinary ones. RegExp gets one bounded run on the pathological
 * patterns, at a length where it still finishes (each extra character doubles its time).
 * Last line: `regex: re2 compile=Nµs match=Mµs (ordinary, median) pathological=Kµs; RegExp pathological=Lms`.
 */
import { compileUserRegex } from "../contracts/rules/user-regex.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2_000);
/** Matching is timed over more rounds than compiling: the first thousands of matches include JIT warm-up. */
const MATCH_ROUNDS = ROUNDS * 10;

interface Case {
  readonly pattern: string;
  readonly text: string;
  readonly ignoreCase?: boolean;
  /** Pathological for a backtracking engine: RegExp runs once, on `regExpText`. */
  readonly regExpText?: string;
}

const PATHOLOGICAL: Case[] = [
  { pattern: "^(.|.)*QQQQ$", text: "a".repeat(27), regExpText: "a".repeat(22) },
  { pattern: "^(\\w|\\d)+$", text: `${"1".repeat(30)}!`, regExpText: `${"1".repeat(22)}!` },
];
const ORDINARY: Case[] = [
  { pattern: "timeout|refused", text: "GET /api/v1/users 200 12ms upstream ok after retry" },
  { pattern: "^user-[0-9]+$", text: "user-1234567" },
  { pattern: "error\\s+code=\\d{3}", text: "some text here ERROR   code=503 and more", ignoreCase: true },
  { pattern: "^/api/v[12]/(logs|rules)/[a-z0-9-]+$", text: "/api/v1/rules/errors-burst" },
];

const micros = (start: bigint) => Number(process.hrtime.bigint() - start) / 1_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function re2(c: Case): { compile: number; match: number; result: boolean } {
  let start = process.hrtime.bigint();
  let compiled = compileUserRegex(c.pattern, c.ignoreCase === true);
  for (let i = 1; i < ROUNDS; i++) compiled = compileUserRegex(c.pattern, c.ignoreCase === true);
  const compile = micros(start) / ROUNDS;
  if (!compiled.ok) throw new Error(compiled.problem);
  start = process.hrtime.bigint();
  let result = false;
  for (let i = 0; i < MATCH_ROUNDS; i++) result = compiled.regex.test(c.text);
  return { compile, match: micros(start) / MATCH_ROUNDS, result };
}

function regExp(c: Case): { compile: number; match: number; result: boolean } {
  const flags = c.ignoreCase ? "i" : "";
  if (c.regExpText !== undefined) {
    const start = process.hrtime.bigint();
    const result = new RegExp(c.pattern, flags).test(c.regExpText);
    return { compile: Number.NaN, match: micros(start), result };
  }
  let start = process.hrtime.bigint();
  let re = new RegExp(c.pattern, flags);
  for (let i = 1; i < ROUNDS; i++) re = new RegExp(c.pattern, flags);
  const compile = micros(start) / ROUNDS;
  start = process.hrtime.bigint();
  let result = false;
  for (let i = 0; i < MATCH_ROUNDS; i++) result = re.test(c.text);
  return { compile, match: micros(start) / MATCH_ROUNDS, result };
}

const ordinary = { compile: [] as number[], match: [] as number[] };
let pathologicalRe2 = 0;
let pathologicalRegExp = 0;
for (const c of [...PATHOLOGICAL, ...ORDINARY]) {
  const ours = re2(c);
  const builtIn = regExp(c);
  const length = c.regExpText?.length ?? c.text.length;
  console.log(
    `${JSON.stringify(c.pattern)}: re2 compile ${ours.compile.toFixed(1)} µs, match ${ours.match.toFixed(2)} µs on ${c.text.length} chars (${ours.result}); ` +
      (c.regExpText !== undefined
        ? `RegExp one compile+match ${(builtIn.match / 1_000).toFixed(1)} ms on only ${length} chars (${builtIn.result})`
        : `RegExp compile ${builtIn.compile.toFixed(2)} µs, match ${builtIn.match.toFixed(2)} µs (${builtIn.result})`),
  );
  if (c.regExpText !== undefined) {
    pathologicalRe2 = Math.max(pathologicalRe2, ours.compile + ours.match);
    pathologicalRegExp = Math.max(pathologicalRegExp, builtIn.match / 1_000);
  } else {
    ordinary.compile.push(ours.compile);
    ordinary.match.push(ours.match);
  }
}
console.log(
  `regex: re2 compile=${median(ordinary.compile).toFixed(0)}µs match=${median(ordinary.match).toFixed(1)}µs (ordinary, median) ` +
    `pathological=${pathologicalRe2.toFixed(0)}µs; RegExp pathological=${pathologicalRegExp.toFixed(0)}ms`,
);
