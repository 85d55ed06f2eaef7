/**
 * Paths into a tenant or platform document: the segments Ajv reports (JSON Pointer) and the way humans read
 * them in messages, e.g. `spec.quota.hard["requests.cpu"]` or `spec.owners[0].kind`.
 */
export type FieldPath = readonly (string | number)[];

/** Splits an Ajv `instancePath` (RFC 6901 JSON Pointer); array indices become numbers. */
export function parsePointer(pointer: string): (string | number)[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((raw) => raw.replaceAll("~1", "/").replaceAll("~0", "~"))
    .map((segment) => (/^(0|[1-9][0-9]*)$/.test(segment) ? Number(segment) : segment));
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

export function formatPath(path: FieldPath): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) text += text === "" ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text === "" ? "(document)" : text;
}
