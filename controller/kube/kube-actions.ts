/**
 * Every write the controller makes, behind one small interface. Reconcile only ever talks to this, which is what
 * lets the unit tests assert the exact list of API actions a reconcile took (the sample-controller way).
 */
import {
  ApiException,
  CoreV1Api,
  PatchStrategy,
  type CoreV1Event,
  type KubeConfig,
  type KubernetesObject,
  type V1Secret,
} from "@kubernetes/client-node";
import {
  TENANT_API_VERSION,
  TENANT_KIND,
  tenantStatusPath,
  type TenantObject,
  type TenantStatusFields,
} from "../../contracts/tenant-status.ts";
import { RawApi, REQUEST_TIMEOUT_MS } from "./raw-api.ts";

export const FIELD_MANAGER = "neurallog-controller";

export interface EventPatch {
  readonly count?: number;
  readonly lastTimestamp: Date;
  readonly message: string;
}

export interface KubeActions {
  /** Throws `AlreadyExistsError` when an Event of that name exists. */
  createEvent(event: CoreV1Event): Promise<void>;
  /** Throws `NotFoundError` when the Event is gone (expired). */
  patchEvent(namespace: string, name: string, patch: EventPatch): Promise<void>;
  /**
   * Creates a Secret, never reads or replaces one (the controller has no right to): throws `AlreadyExistsError`
   * when it exists.
   */
  createSecret(secret: V1Secret): Promise<void>;
  /** Server-side apply, forced, as `neurallog-controller`: takes over the fields we own. */
  applyObject(object: KubernetesObject): Promise<void>;
  /**
   * Removes fields another manager added and server-side apply would leave alone (it only ever touches fields
   * the applier sets), only if the object is still at `resourceVersion`. Fields are path segments.
   */
  removeFields(
    object: KubernetesObject,
    resourceVersion: string,
    fields: readonly (readonly string[])[],
  ): Promise<void>;
  /**
   * Server-side apply of a Tenant's whole status through the status subresource, forced, as
   * `neurallog-controller` (the only writer of status; the Tenant admission policy matches only the main resource).
   */
  applyTenantStatus(tenant: TenantObject, status: TenantStatusFields): Promise<void>;
}

export class AlreadyExistsError extends Error {}
export class NotFoundError extends Error {}
export class NotLeaderError extends Error {
  constructor() {
    super("not the leader: writes are refused");
  }
}

/** The real thing. `canWrite` is the leader check, asked right before every write. */
export class ClientKubeActions implements KubeActions {
  readonly #core: CoreV1Api;
  readonly #raw: RawApi;
  readonly #canWrite: () => boolean;

  constructor(kubeConfig: KubeConfig, canWrite: () => boolean) {
    this.#core = kubeConfig.makeApiClient(CoreV1Api);
    this.#raw = new RawApi(kubeConfig);
    this.#canWrite = canWrite;
  }

  async createEvent(event: CoreV1Event): Promise<void> {
    this.#guard();
    const namespace = event.metadata.namespace ?? "";
    await translate(() =>
      this.#core.createNamespacedEvent({ namespace, body: event, fieldManager: FIELD_MANAGER }),
    );
  }

  async patchEvent(namespace: string, name: string, patch: EventPatch): Promise<void> {
    this.#guard();
    await translate(() =>
      this.#raw.send({
        method: "PATCH",
        path: `/api/v1/namespaces/${namespace}/events/${name}`,
        query: { fieldManager: FIELD_MANAGER },
        body: patch,
        contentType: PatchStrategy.MergePatch,
      }),
    );
  }

  async createSecret(secret: V1Secret): Promise<void> {
    this.#guard();
    const namespace = secret.metadata?.namespace ?? "";
    await translate(() =>
      this.#core.createNamespacedSecret({ namespace, body: secret, fieldManager: FIELD_MANAGER }),
    );
  }

  async applyObject(object: KubernetesObject): Promise<void> {
    this.#guard();
    await translate(() =>
      this.#raw.send({
        method: "PATCH",
        path: objectPath(object),
        query: { fieldManager: FIELD_MANAGER, force: "true", fieldValidation: "Strict" },
        body: object,
        contentType: PatchStrategy.ServerSideApply,
      }),
    );
  }

  async removeFields(
    object: KubernetesObject,
    resourceVersion: string,
    fields: readonly (readonly string[])[],
  ) {
    this.#guard();
    // JSON patch whose first operation tests the resourceVersion: it applies to the object we judged, or not at
    // all (422, and the reconcile retries from a fresher cache).
    const body = [
      { op: "test", path: "/metadata/resourceVersion", value: resourceVersion },
      ...fields.map((segments) => ({ op: "remove", path: `/${segments.map(escapePointer).join("/")}` })),
    ];
    await translate(() =>
      this.#raw.send({
        method: "PATCH",
        path: objectPath(object),
        query: { fieldManager: FIELD_MANAGER },
        body,
        contentType: PatchStrategy.JsonPatch,
      }),
    );
  }

  async applyTenantStatus(tenant: TenantObject, status: TenantStatusFields): Promise<void> {
    this.#guard();
    const { name = "", namespace = "" } = tenant.metadata ?? {};
    await translate(() =>
      this.#raw.send({
        method: "PATCH",
        path: tenantStatusPath(namespace, name),
        query: { fieldManager: FIELD_MANAGER, force: "true", fieldValidation: "Strict" },
        body: { apiVersion: TENANT_API_VERSION, kind: TENANT_KIND, metadata: { name, namespace }, status },
        contentType: PatchStrategy.ServerSideApply,
      }),
    );
  }

  #guard(): void {
    if (!this.#canWrite()) throw new NotLeaderError();
  }
}

/** REST paths of the kinds the controller writes (a fixed, small set: no discovery needed). */
const RESOURCES: Readonly<Record<string, string>> = {
  "v1/ResourceQuota": "resourcequotas",
  "v1/LimitRange": "limitranges",
  "networking.k8s.io/v1/NetworkPolicy": "networkpolicies",
};

function objectPath(object: KubernetesObject): string {
  const resource = RESOURCES[`${object.apiVersion}/${object.kind}`];
  const { name, namespace } = object.metadata ?? {};
  if (!resource || !name || !namespace) {
    throw new Error(
      `cannot write ${object.apiVersion} ${object.kind} ${namespace}/${name}: not a kind the controller owns`,
    );
  }
  const group = object.apiVersion === "v1" ? "/api/v1" : `/apis/${object.apiVersion}`;
  return `${group}/namespaces/${namespace}/${resource}/${name}`;
}

function escapePointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

async function translate<T>(call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  // The generated clients take no deadline; a write that never returns must not hold a worker forever.
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)),
      REQUEST_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([call(), timeout]);
  } catch (error) {
    if (error instanceof ApiException) {
      if (error.code === 409) throw new AlreadyExistsError("already exists", { cause: error });
      if (error.code === 404) throw new NotFoundError("not found", { cause: error });
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
