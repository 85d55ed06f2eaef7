/**
 * `| line_format "..."`: Go text/template as Loki runs it, in the part dashboards use: literal text,
 * `{{.label}}` (also `{{ .label }}`, trim markers `{{-`/`-}}`) and `{{__line__}}`. A label the log lacks renders
 * empty, as Loki's map of strings does. Functions, pipes, conditions and ranges are refused by name.
 */
import { LogqlError } from "./logql-lexer.ts";

type Part = { readonly text: string } | { readonly label: string } | { readonly line: true };

export interface LineTemplate {
  render(labels: (name: string) => string | undefined, line: string): string;
}

const ACTION = /\{\{(-\s)?\s*(.*?)\s*(\s-)?\}\}/gs;

export function compileLineTemplate(template: string): LineTemplate {
  const parts: Part[] = [];
  let at = 0;
  let trimNext = false;
  for (const match of template.matchAll(ACTION)) {
    let text = template.slice(at, match.index);
    if (trimNext) text = text.trimStart();
    if (match[1]) text = text.trimEnd();
    if (text) parts.push({ text });
    const action = match[2]!;
    if (action === "__line__") parts.push({ line: true });
    else if (/^\.[a-zA-Z_][a-zA-Z0-9_]*$/.test(action)) parts.push({ label: action.slice(1) });
    else
      throw new LogqlError(
        `line_format: the template action {{${action}}} is not supported by this server (it renders text, {{.label}} and {{__line__}})`,
      );
    trimNext = Boolean(match[3]);
    at = match.index + match[0].length;
  }
  let rest = template.slice(at);
  if (trimNext) rest = rest.trimStart();
  if (rest.includes("{{")) throw new LogqlError("line_format: the template has an unterminated {{");
  if (rest) parts.push({ text: rest });
  return {
    render(labels, line) {
      let out = "";
      for (const part of parts) {
        if ("text" in part) out += part.text;
        else if ("line" in part) out += line;
        else out += labels(part.label) ?? "";
      }
      return out;
    },
  };
}
