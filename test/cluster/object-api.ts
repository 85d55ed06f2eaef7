/**
 * client-node's KubernetesObjectApi, extended with what the strict applier needs and it lacks: a server-side
 * apply that sends the object exactly as written with `fieldValidation=Strict` and returns the response's
 * `Warning` headers. It reuses the parent's auth, TLS and per-API-version resource cache.
 */
import {
  HttpMethod,
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
  type RequestContext,
} from "@kubernetes/client-node";

export interface RawResponse {
  readonly status: number;
  readonly body: string;
  readonly warnings: string[];
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

  /** Server-side apply of `object` exactly as given; `force=false` (unless a dry run overrides owners), `fieldValidation=Strict`. */
  async applyStrict(
    object: KubernetesObject,
    options: { fieldManager: string; dryRun?: boolean; overrideOwners?: boolean },
  ): Promise<RawResponse> {
    if (options.overrideOwners && !options.dryRun) throw new Error("overrideOwners is for dry runs only");
    // specUriPath fills in defaults on the object it is given; keep the caller's object as it was.
    const path = await this.specUriPath(structuredClone(object), "patch");
    const context = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    context.setHeaderParam("Accept", "application/json");
    context.setHeaderParam("Content-Type", PatchStrategy.ServerSideApply);
    context.setQueryParam("fieldManager", options.fieldManager);
    context.setQueryParam("fieldValidation", "Strict");
    context.setQueryParam("force", options.overrideOwners ? "true" : "false");
    if (options.dryRun) context.setQueryParam("dryRun", "All");
    // JSON is valid YAML, which is what application/apply-patch+yaml expects.
    context.setBody(JSON.stringify(object));
    return this.send(context);
  }
}
