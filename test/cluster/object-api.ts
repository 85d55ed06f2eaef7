/**
 * client-node's KubernetesObjectApi, extended with what the strict applier and the GitOps sync stand-in need
 * and it lacks: a server-side apply that sends the object exactly as written with `fieldValidation=Strict` and
 * returns the response's `Warning` headers, and discovery of every listable resource type. It reuses the parent's
 * auth, TLS and per-API-version resource cache.
 */
import {
  ApiException,
  HttpMethod,
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
  type RequestContext,
  type V1APIGroupList,
  type V1APIResourceList,
  type V1APIVersions,
} from "@kubernetes/client-node";

export interface RawResponse {
  readonly status: number;
  readonly body: string;
  readonly warnings: string[];
}

export interface ResourceType {
  readonly apiVersion: string;
  readonly kind: string;
  /** The plural resource name, e.g. `deployments`. */
  readonly name: string;
  readonly namespaced: boolean;
}

/**
 * `Warning` response headers (RFC 7234 form, `299 - "text"`). Several headers arrive joined with ", ", and the
 * text itself may contain commas, so split only where a new `299 - "` begins.
 */
export function parseWarningHeader(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(/,\s*(?=\d{3} [^ ]+ ")/)
    .map((part) => {
      const match = /^\d{3} [^ ]+ "((?:[^"\\]|\\.)*)"/.exec(part.trim());
      return match?.[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : part.trim();
    })
    .filter((text) => text !== "");
}

export class ObjectApi extends KubernetesObjectApi {
  static forConfig(kc: KubeConfig): ObjectApi {
    const api = kc.makeApiClient(ObjectApi);
    api.setDefaultNamespace(kc);
    return api;
  }

  /** Whether the object's kind is namespaced (discovery, cached per API version). */
  async isNamespaced(object: KubernetesObject): Promise<boolean> {
    const resource = await this.resource(object.apiVersion ?? "v1", object.kind ?? "");
    if (!resource) throw new Error(`Unrecognized API version and kind: ${object.apiVersion} ${object.kind}`);
    return resource.namespaced;
  }

  /** Sends a request as the parent's verbs do (auth, then middleware), but hands back status, body and warnings. */
  private async send(context: RequestContext): Promise<RawResponse> {
    await this.configuration.authMethods.default?.applySecurityAuthentication(context);
    let prepared = context;
    for (const middleware of this.configuration.middleware)
      prepared = await middleware.pre(prepared).toPromise();
    const response = await this.configuration.httpApi.send(prepared).toPromise();
    return {
      status: response.httpStatusCode,
      body: await response.body.text(),
      warnings: parseWarningHeader(response.headers["warning"]),
    };
  }

  /** Server-side apply of `object` exactly as given; `force=false`, `fieldValidation=Strict`. */
  async applyStrict(
    object: KubernetesObject,
    options: { fieldManager: string; dryRun?: boolean },
  ): Promise<RawResponse> {
    // specUriPath fills in defaults on the object it is given; keep the caller's object as it was.
    const path = await this.specUriPath(structuredClone(object), "patch");
    const context = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    context.setHeaderParam("Accept", "application/json");
    context.setHeaderParam("Content-Type", PatchStrategy.ServerSideApply);
    context.setQueryParam("fieldManager", options.fieldManager);
    context.setQueryParam("fieldValidation", "Strict");
    context.setQueryParam("force", "false");
    if (options.dryRun) context.setQueryParam("dryRun", "All");
    // JSON is valid YAML, which is what application/apply-patch+yaml expects.
    context.setBody(JSON.stringify(object));
    return this.send(context);
  }

  private async getJson<T>(path: string): Promise<T> {
    const context = this.configuration.baseServer.makeRequestContext(path, HttpMethod.GET);
    context.setHeaderParam("Accept", "application/json");
    const response = await this.send(context);
    if (response.status !== 200) throw new Error(`GET ${path}: HTTP ${response.status}: ${response.body}`);
    return JSON.parse(response.body) as T;
  }

  /**
   * The object as stored, as plain JSON (the parent's read() turns it into a typed model, dropping what the
   * model does not know and turning timestamps into Dates); undefined if it does not exist.
   */
  async readRaw(object: KubernetesObject): Promise<KubernetesObject | undefined> {
    const path = await this.specUriPath(structuredClone(object), "read");
    const context = this.configuration.baseServer.makeRequestContext(path, HttpMethod.GET);
    context.setHeaderParam("Accept", "application/json");
    const response = await this.send(context);
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw new Error(`GET ${path}: HTTP ${response.status}: ${response.body}`);
    return JSON.parse(response.body) as KubernetesObject;
  }

  /**
   * `list`, retried while the API server answers 429 (e.g. "storage is (re)initializing": a resource's watch cache
   * being rebuilt, for a new CRD or after its etcd watch broke under load), after the Retry-After it names, as
   * client-go does; bounded at `timeoutMs`.
   */
  async listWhenReady(apiVersion: string, kind: string, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.list(apiVersion, kind);
      } catch (error) {
        if (!(error instanceof ApiException) || error.code !== 429 || Date.now() > deadline) throw error;
        const headers = error.headers as Record<string, string | undefined>;
        const seconds = Number(headers["retry-after"] ?? 1);
        await new Promise((resolve) => setTimeout(resolve, (Number.isFinite(seconds) ? seconds : 1) * 1_000));
      }
    }
  }

  /**
   * Every resource type that can be listed, in each group's preferred version (subresources excluded), as a
   * sync needs to find every object it tracks.
   */
  async listableResourceTypes(): Promise<ResourceType[]> {
    const core = await this.getJson<V1APIVersions>("/api");
    const groups = await this.getJson<V1APIGroupList>("/apis");
    const groupVersions = [
      ...core.versions,
      ...groups.groups.map((g) => g.preferredVersion?.groupVersion ?? g.versions[0]?.groupVersion ?? ""),
    ].filter((gv) => gv !== "");
    const lists = await Promise.all(
      groupVersions.map((gv) =>
        this.getJson<V1APIResourceList>(gv.includes("/") ? `/apis/${gv}` : `/api/${gv}`),
      ),
    );
    return lists.flatMap((list) =>
      list.resources
        .filter((r) => !r.name.includes("/") && r.verbs.includes("list"))
        .map((r) => ({
          apiVersion: list.groupVersion,
          kind: r.kind,
          name: r.name,
          namespaced: r.namespaced,
        })),
    );
  }
}
