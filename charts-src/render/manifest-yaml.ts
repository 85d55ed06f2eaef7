/**
 * YAML for rendered manifests: block style, two-space indent, keys in the order given (cdk8s already sorted
 * them), strings quoted whenever a YAML 1.1 or 1.2 reader could take them for anything but a string (`"yes"`,
 * `"0755"`, `"1:20"`, `"-2"`), multi-line strings as `|` blocks.
 *
 * Why not the `yaml` package's stringify: it builds a node tree per document, and synth writes one document
 * per object — at 1000 tenants that was a third of synth's time. Manifests are plain JSON data (maps, arrays,
 * strings, numbers, booleans), which this writes directly. The tests parse every rendered file back with the
 * `yaml` package (1.1 and 1.2 schemas) and compare it with the object.
 */

type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

/** Words YAML 1.1 (or 1.2) reads as booleans or null, in any of their spellings. */
const RESERVED_WORD = /^(?:y|n|yes|no|true|false|on|off|null|~|=|<<)$/i;
/** Anything a YAML 1.1/1.2 reader might take for a number or a timestamp (deliberately broad). */
const NUMBER_LIKE = /^[-+]?(?:\.?[0-9][0-9_,:.]*(?:[eE][-+]?[0-9]+)?|\.(?:inf|nan)|0[xob][0-9a-f_]+)$/i;
const TIMESTAMP_LIKE = /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}/;
/** Printable ASCII only; no leading indicator (a leading `-` is fine before a non-space). */
const PLAIN_SAFE = /^(?:[^-?:,[\]{}#&*!|>'"%@`\s]|-(?=[^\s]))[\x20-\x7e]*$/;

function isPlainSafe(text: string): boolean {
  return (
    PLAIN_SAFE.test(text) &&
    !text.endsWith(" ") &&
    !text.endsWith(":") &&
    !text.includes(": ") &&
    !text.includes(" #") &&
    !RESERVED_WORD.test(text) &&
    !NUMBER_LIKE.test(text) &&
    !TIMESTAMP_LIKE.test(text)
  );
}

/** A double-quoted scalar: JSON's escapes are YAML's, plus the line separators YAML 1.1 would break on. */
function quoted(text: string): string {
  return JSON.stringify(text).replace(
    /[\u0085\u2028\u2029\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * A string holding `"` but no `'`, all printable ASCII, reads better single-quoted (a shell command stays as
 * written, no backslashes): the `yaml` package makes the same choice, and the tests compare with it.
 */
function singleQuoted(text: string): string | undefined {
  return text.includes('"') && !text.includes("'") && /^[\x20-\x7e]*$/.test(text) ? `'${text}'` : undefined;
}

/** Multi-line text that a literal block keeps byte for byte (no leading blanks, trailing spaces or tabs). */
const LITERAL_SAFE = /^[^\s][\x20-\x7e\n]*$/;

function literalBlock(text: string, indent: string): string | undefined {
  if (!LITERAL_SAFE.test(text) || /[ ]\n|[ ]$/.test(text)) return undefined;
  const body = text.replace(/\n+$/, "");
  const trailing = text.length - body.length;
  const chomp = trailing === 0 ? "-" : trailing === 1 ? "" : "+";
  const lines = body.split("\n").map((line) => (line === "" ? "" : indent + line));
  for (let i = 1; i < trailing; i++) lines.push("");
  return `|${chomp}\n${lines.join("\n")}`;
}

function scalar(value: null | boolean | number | string, indent: string): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`cannot write ${value} to a manifest`);
    return String(value);
  }
  if (value.includes("\n")) return literalBlock(value, indent) ?? quoted(value);
  return value !== "" && isPlainSafe(value) ? value : (singleQuoted(value) ?? quoted(value));
}

const key = (name: string) => (name !== "" && isPlainSafe(name) ? name : quoted(name));

function isCollection(value: Json): value is readonly Json[] | { readonly [key: string]: Json } {
  return typeof value === "object" && value !== null;
}

function isEmpty(value: readonly Json[] | { readonly [key: string]: Json }): boolean {
  return Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0;
}

/** Lines of a collection at `indent`; the caller puts the first line after `- ` or on its own line. */
function collection(
  value: readonly Json[] | { readonly [key: string]: Json },
  indent: string,
  out: string[],
): void {
  const deeper = `${indent}  `;
  if (Array.isArray(value)) {
    for (const item of value as readonly Json[]) {
      if (isCollection(item) && !isEmpty(item)) {
        const start = out.length;
        collection(item, deeper, out);
        // The first line of the item goes right after "- " (where its indent would be).
        out[start] = `${indent}- ${out[start]!.slice(deeper.length)}`;
      } else {
        out.push(
          `${indent}- ${isCollection(item) ? (Array.isArray(item) ? "[]" : "{}") : scalar(item, deeper)}`,
        );
      }
    }
    return;
  }
  for (const [name, child] of Object.entries(value)) {
    if (child === undefined) continue;
    if (isCollection(child) && !isEmpty(child)) {
      out.push(`${indent}${key(name)}:`);
      // Sequences under a key are indented one level, as kubectl and the yaml package write them.
      collection(child, deeper, out);
    } else {
      const text = isCollection(child) ? (Array.isArray(child) ? "[]" : "{}") : scalar(child, deeper);
      out.push(`${indent}${key(name)}: ${text}`);
    }
  }
}

/** One YAML document (no `---`), ending with a newline. */
export function manifestYaml(object: { readonly [key: string]: unknown }): string {
  const out: string[] = [];
  collection(object as { readonly [key: string]: Json }, "", out);
  return `${out.join("\n")}\n`;
}
