/**
 * Splits LogQL into tokens, each with its line and column, so every parse error can say where it is the way
 * Loki's own do (`parse error at line 1, col 12: ...`). Strings are unquoted as Go's `strconv.Unquote` does
 * (Loki's rule): `"..."` with Go escapes, or a raw `` `...` ``.
 */

export type TokenKind = "string" | "number" | "quantity" | "ident" | "op" | "eof";

export interface Token {
  readonly kind: TokenKind;
  /** The unquoted value of a string; the source text otherwise. */
  readonly text: string;
  readonly line: number;
  readonly col: number;
}

/** A query this server cannot run: bad syntax, or a construct it does not support. Always a 400. */
export class LogqlError extends Error {
  constructor(message: string, position?: { line: number; col: number }) {
    super(position ? `parse error at line ${position.line}, col ${position.col}: ${message}` : message);
  }
}

/** Longest first, so `|=` is not read as `|` then `=`. */
const OPERATORS = [
  "|=",
  "|~",
  "|>",
  "!=",
  "!~",
  "!>",
  "=~",
  "==",
  ">=",
  "<=",
  "|",
  "=",
  ">",
  "<",
  "{",
  "}",
  "(",
  ")",
  "[",
  "]",
  ",",
  "+",
  "-",
  "*",
  "/",
  "%",
  "^",
];

const SIMPLE_ESCAPES: Record<string, string> = {
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\\": "\\",
  '"': '"',
  "'": "'",
};

function unquoteGo(body: string, at: { line: number; col: number }): string {
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) throw new LogqlError("syntax error: unterminated escape in string", at);
    if (e in SIMPLE_ESCAPES) {
      out += SIMPLE_ESCAPES[e];
      continue;
    }
    const hex = (n: number): string => {
      const digits = body.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(digits))
        throw new LogqlError(`syntax error: invalid escape \\${e}${digits} in string`, at);
      i += n;
      return String.fromCodePoint(parseInt(digits, 16));
    };
    if (e === "x") out += hex(2);
    else if (e === "u") out += hex(4);
    else if (e === "U") out += hex(8);
    else if (/[0-7]/.test(e) && /^[0-7]{2}$/.test(body.slice(i + 1, i + 3))) {
      out += String.fromCharCode(parseInt(body.slice(i, i + 3), 8));
      i += 2;
    } else {
      // Go refuses unknown escapes; a regex written `"\d"` must be `"\\d"` or `` `\d` `` (as in Loki).
      throw new LogqlError(
        `syntax error: invalid escape \\${e} in string (write \\\\${e}, or use a backquoted string)`,
        at,
      );
    }
  }
  return out;
}

interface Lexed {
  readonly token: Token;
  /** Where the next token starts. */
  readonly end: number;
}

/** `"..."` with Go escapes (on one line). */
function lexQuoted(source: string, i: number, at: { line: number; col: number }): Lexed {
  let j = i + 1;
  while (j < source.length && source[j] !== '"' && source[j] !== "\n") j += source[j] === "\\" ? 2 : 1;
  if (j >= source.length || source[j] !== '"') throw new LogqlError("syntax error: unterminated string", at);
  return { token: { kind: "string", text: unquoteGo(source.slice(i + 1, j), at), ...at }, end: j + 1 };
}

/** A number, or a number with units (5m, 1h30m, 1.5s, 20MB, 1KiB): the parser decides what it means. */
function lexNumber(source: string, i: number, at: { line: number; col: number }): Lexed {
  const text = /^(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?:[a-zA-Zµ]+(?:[0-9]*\.?[0-9]+[a-zA-Zµ]+)*)?/.exec(
    source.slice(i),
  )![0];
  const kind = /[a-zA-Zµ]/.test(text.replace(/[eE][-+]?[0-9]+$/, "")) ? "quantity" : "number";
  return { token: { kind, text, ...at }, end: i + text.length };
}

/** Identifiers, operators, and Grafana variables left in the query (refused with a hint). */
function lexWordOrOperator(source: string, i: number, at: { line: number; col: number }): Lexed {
  const c = source[i]!;
  if (/[a-zA-Z_]/.test(c)) {
    const text = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(source.slice(i))![0];
    return { token: { kind: "ident", text, ...at }, end: i + text.length };
  }
  if (c === "$") {
    const name = /^\$[a-zA-Z_]*/.exec(source.slice(i))![0];
    throw new LogqlError(
      `syntax error: unexpected ${name}: Grafana variables such as $__auto or $__interval must be replaced before the query is sent`,
      at,
    );
  }
  const op = OPERATORS.find((o) => source.startsWith(o, i));
  if (!op) throw new LogqlError(`syntax error: unexpected character ${JSON.stringify(c)}`, at);
  return { token: { kind: "op", text: op, ...at }, end: i + op.length };
}

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === "\n") {
      i++;
      line++;
      lineStart = i;
    } else if (c === " " || c === "\t" || c === "\r") i++;
    else if (c === "#") {
      while (i < source.length && source[i] !== "\n") i++;
    } else {
      const at = { line, col: i - lineStart + 1 };
      let lexed: Lexed;
      if (c === '"') lexed = lexQuoted(source, i, at);
      else if (c === "`") {
        const end = source.indexOf("`", i + 1);
        if (end < 0) throw new LogqlError("syntax error: unterminated raw string", at);
        const raw = source.slice(i + 1, end);
        const newlines = raw.split("\n").length - 1;
        if (newlines) {
          line += newlines;
          lineStart = i + 1 + raw.lastIndexOf("\n") + 1;
        }
        lexed = { token: { kind: "string", text: raw, ...at }, end: end + 1 };
      } else if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(source[i + 1] ?? "")))
        lexed = lexNumber(source, i, at);
      else lexed = lexWordOrOperator(source, i, at);
      tokens.push(lexed.token);
      i = lexed.end;
    }
  }
  tokens.push({ kind: "eof", text: "", line, col: i - lineStart + 1 });
  return tokens;
}
