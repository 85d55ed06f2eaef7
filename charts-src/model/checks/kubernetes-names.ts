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

/**
 * Why a tenant may not set this label or annotation key, or undefined when it may. Tenant labels and annotations
 * land on every rendered object, so keys that Kubernetes or Argo CD act on would let a tenant file weaken the
 * platform's guarantees (a `pod-security.kubernetes.io/enforce` label, an `argocd.argoproj.io/sync-options`
 * annotation that re-enables pruning of a volume).
 */
export function reservedKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  if (slash < 0) return undefined;
  const prefix = key.slice(0, slash);
  const owner = RESERVED_KEY_DOMAINS.find((domain) => prefix === domain || prefix.endsWith(`.${domain}`));
  if (owner)
    return `key "${key}" is reserved (prefix ${owner} is acted on by ${RESERVED_BY[owner]}); pick a key of your own domain`;
  if (key === "neurallog.io/tenant") return `key "${key}" is set by NeuralLog itself`;
  return undefined;
}

const RESERVED_BY: Record<string, string> = {
  "kubernetes.io": "Kubernetes",
  "k8s.io": "Kubernetes",
  "argoproj.io": "Argo CD",
};
const RESERVED_KEY_DOMAINS = Object.keys(RESERVED_BY);

/** Why `value` is not a valid label value, or undefined when it is. */
export function labelValueProblem(value: string): string | undefined {
  if (value === "" || (value.length <= 63 && QUALIFIED_NAME.test(value))) return undefined;
  return "a label value must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
}

/** Namespaces a tenant must never land in, whatever the platform says. */
export function isReservedNamespace(name: string): boolean {
  return name === "default" || name.startsWith("kube-");
}
