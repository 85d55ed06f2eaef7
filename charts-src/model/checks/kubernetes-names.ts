/**
 * Kubernetes' own name rules (apimachinery validation), so that a file that passes `validate` is not rejected
 * by the API server later for a name.
 */
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export function isDns1123Label(name: string): boolean {
  return name.length <= 63 && LABEL.test(name);
}

export function isDns1123Subdomain(name: string): boolean {
  return name.length <= 253 && name.split(".").every((part) => LABEL.test(part));
}

/** Why `key` is not a valid label or annotation key (`[prefix/]name`), or undefined when it is. */
export function qualifiedKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !isDns1123Subdomain(prefix)) {
    return `key prefix "${prefix}" must be a DNS subdomain (lowercase, e.g. example.com)`;
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return `key name "${name}" must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is. */
export function labelValueProblem(value: string): string | undefined {
  if (value === "" || (value.length <= 63 && QUALIFIED_NAME.test(value))) return undefined;
  return "a label value must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
}

/** Namespaces a tenant must never land in, whatever the platform says. */
export function isReservedNamespace(name: string): boolean {
  return name === "default" || name.startsWith("kube-");
}
