/**
 * Server-side apply as Argo CD's `ServerSideApply=true` and `kubectl apply --server-side` do it, but strict:
 * `fieldValidation=Strict` (an unknown or duplicated field is an error, never silently dropped), `force=false`
 * (a field owned by another manager is a conflict, not taken over), and any admission warning fails the apply.
 * Shared by the cluster tests, so all judge manifests the same way.
 *
 * Why not `KubernetesObjectApi.patch()`: it serializes the object through the typed model of its kind, which drops
 * every field the model does not know, so a misspelled field would be pruned on the client before the API server
 * could reject it; it also has no `fieldValidation` parameter and discards response headers (the warnings). This
 * module reuses its discovery (resource paths, cached per API version) and its auth, and sends the object as is.
 */
import { ApiException, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { ObjectApi, type RawResponse } from "./object-api.ts";

export interface ApplyOptions {
  /** The field manager that owns what this apply sets; the GitOps sync uses one name for all its applies. */
  readonly fieldManager: string;
  /** Validate and admit without persisting (`dryRun=All`). Default: false. */
  readonly dryRun?: boolean;
  /**
   * With `dryRun` only: `force=true`, so fields another manager owns (real Argo CD, syncing the same names) are no
   * conflict. Such a dry run asks whether the API server accepts the objects, not who would own them.
   */
  readonly overrideOwners?: boolean;
}

export interface AppliedObject {
  readonly ref: string;
  /** The object as the API server stored it (or would have, on a dry run). */
  readonly live: KubernetesObject;
}

/** Which object an apply was about: `Kind namespace/name` or `Kind name`. */
export function objectRef(object: KubernetesObject): string {
  const { namespace, name } = object.metadata ?? {};
  return `${object.kind ?? "?"} ${namespace ? `${namespace}/` : ""}${name ?? "?"}`;
}

/** The API server refused an object; `message` is the server's own, prefixed with the object it concerns. */
export class ApplyRejectedError extends Error {
  readonly ref: string;
  readonly status: number;
  readonly reason: string | undefined;
  readonly serverMessage: string;
  constructor(
    ref: string,
    status: number,
    reason: string | undefined,
    serverMessage: string,
    cause?: unknown,
  ) {
    super(`${ref}: ${serverMessage}`, { cause });
    this.name = "ApplyRejectedError";
    this.ref = ref;
    this.status = status;
    this.reason = reason;
    this.serverMessage = serverMessage;
  }
}

/**
 * The API server accepted an object but warned (deprecated API, unknown field under Warn, Pod Security `warn`,
 * ...). The object IS stored (unless dry run); the apply still fails, because a warning today is a rejection or
 * a silent drift tomorrow.
 */
export class AdmissionWarningError extends Error {
  readonly ref: string;
  readonly warnings: readonly string[];
  constructor(ref: string, warnings: readonly string[]) {
    super(`${ref}: admission warnings: ${warnings.join("; ")}`);
    this.name = "AdmissionWarningError";
    this.ref = ref;
    this.warnings = warnings;
  }
}

interface ApiStatus {
  readonly message?: string;
  readonly reason?: string;
}

function parseStatus(body: string): ApiStatus {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === "object" && parsed !== null ? (parsed as ApiStatus) : {};
  } catch {
    return {};
  }
}

/**
 * Whether the API server refused only because quota admission lost an optimistic-concurrency race on the
 * namespace's ResourceQuota. Judged from the Status message, not the raw body: in JSON its quotes are escaped
 * (`resourcequotas \"neurallog-quota\"`), which a pattern over the body missed, so no conflict was ever retried.
 */
export function isQuotaConflict(response: Pick<RawResponse, "status" | "body">): boolean {
  return (
    response.status === 409 &&
    /on resourcequotas "[^"]*": the object has been modified/.test(parseStatus(response.body).message ?? "")
  );
}

/** How often an apply refused only because the namespace's ResourceQuota changed underneath it is tried. */
const QUOTA_CONFLICT_ATTEMPTS = 8;
/** The first pause between tries, doubled each time (0.1 s … 6.4 s, ~12.7 s in all). */
const QUOTA_CONFLICT_BACKOFF_MS = 100;

/**
 * The API server's quota admission updates the ResourceQuota's usage with optimistic concurrency; when several
 * creates in one namespace race (the kube-controller-manager recalculating usage at the same time), one of them
 * can come back 409 "Operation cannot be fulfilled on resourcequotas". The object itself was not judged, so
 * kubectl users and Argo CD simply retry; so do we, with backoff: the admission plugin judges against its own
 * cached copy of the quota, which an immediate retry can find as stale as before (seen under load: 5 immediate
 * tries all refused). Every other conflict (e.g. a field-manager conflict) is a real rejection, returned as is.
 */
async function applyRetryingQuotaConflicts(
  api: ObjectApi,
  object: KubernetesObject,
  options: ApplyOptions,
): Promise<RawResponse> {
  for (let attempt = 1; ; attempt++) {
    const result = await api.applyStrict(object, options);
    if (!isQuotaConflict(result) || attempt >= QUOTA_CONFLICT_ATTEMPTS) return result;
    await new Promise((resolve) => setTimeout(resolve, QUOTA_CONFLICT_BACKOFF_MS * 2 ** (attempt - 1)));
  }
}

/**
 * Applies the objects one by one, in the order given (the caller orders by sync wave and kind), and stops at the
 * first rejection or warning, throwing ApplyRejectedError or AdmissionWarningError.
 */
export async function applyManifests(
  kc: KubeConfig,
  objects: readonly KubernetesObject[],
  options: ApplyOptions,
): Promise<AppliedObject[]> {
  const api = ObjectApi.forConfig(kc);
  const applied: AppliedObject[] = [];
  for (const object of objects) {
    const ref = objectRef(object);
    let result: RawResponse;
    try {
      if (object.metadata?.namespace === undefined && (await api.isNamespaced(object))) {
        // KubernetesObjectApi would silently put it into the kubeconfig's default namespace.
        throw new ApplyRejectedError(ref, 0, "NoNamespace", "namespaced object without metadata.namespace");
      }
      result = await applyRetryingQuotaConflicts(api, object, options);
    } catch (error) {
      if (error instanceof ApplyRejectedError) throw error;
      // Discovery failures (an unknown kind, e.g. a CRD not installed yet) come back as ApiException or Error.
      const status = error instanceof ApiException ? error.code : 0;
      const message = error instanceof Error ? error.message : String(error);
      throw new ApplyRejectedError(ref, status, undefined, message, error);
    }
    if (result.status < 200 || result.status > 299) {
      const status = parseStatus(result.body);
      throw new ApplyRejectedError(ref, result.status, status.reason, status.message ?? result.body);
    }
    if (result.warnings.length > 0) throw new AdmissionWarningError(ref, result.warnings);
    applied.push({ ref, live: JSON.parse(result.body) as KubernetesObject });
  }
  return applied;
}
