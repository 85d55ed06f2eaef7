/**
 * Requests with plain JSON bodies, in both directions. The generated clients pass bodies through the client's
 * model classes: lists come back reshaped (`LimitRangeItem.default` becomes `_default`, timestamps become Dates)
 * while watch events arrive as plain JSON, and objects sent through `KubernetesObjectApi.patch()` lose every
 * field whose model name differs from its JSON name (a LimitRange's `default`). The controller's cache holds
 * wire JSON only, and what it applies is sent exactly as synth rendered it.
 */
import {
  ApiException,
  HttpMethod,
  ServerConfiguration,
  createConfiguration,
  type Configuration,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ListPromise,
} from "@kubernetes/client-node";

export interface ListSelectors {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

export interface RawRequest {
  readonly method: "GET" | "PATCH";
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: unknown;
  readonly contentType?: string;
}

/**
 * No request may hang an informer or a reconcile: an API server that accepts connections but never answers
 * must end in an error (and a retry), like one that refuses them.
 */
export const REQUEST_TIMEOUT_MS = 30_000;

export class RawApi {
  readonly #kubeConfig: KubeConfig;
  readonly #configuration: Configuration;

  constructor(kubeConfig: KubeConfig) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig has no current cluster");
    this.#kubeConfig = kubeConfig;
    this.#configuration = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kubeConfig },
    });
  }

  /** Sends the request; a non-2xx answer throws `ApiException` with the status code and the server's message. */
  async send<T>(request: RawRequest): Promise<T> {
    const context = this.#configuration.baseServer.makeRequestContext(
      request.path,
      HttpMethod[request.method],
    );
    context.setHeaderParam("Accept", "application/json");
    context.setSignal(AbortSignal.timeout(REQUEST_TIMEOUT_MS));
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) context.setQueryParam(key, value);
    }
    if (request.body !== undefined) {
      context.setHeaderParam("Content-Type", request.contentType ?? "application/json");
      context.setBody(JSON.stringify(request.body));
    }
    await this.#kubeConfig.applySecurityAuthentication(context);
    const response = await this.#configuration.httpApi.send(context).toPromise();
    const text = await response.body.text();
    if (response.httpStatusCode < 200 || response.httpStatusCode > 299) {
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        // not a Status object: keep the raw text
      }
      throw new ApiException(
        response.httpStatusCode,
        `${request.method} ${request.path}: HTTP ${response.httpStatusCode}: ${message}`,
        text,
        {},
      );
    }
    return JSON.parse(text) as T;
  }

  lister<T extends KubernetesObject>(path: string, selectors: ListSelectors = {}): ListPromise<T> {
    return () => this.send<KubernetesListObject<T>>({ method: "GET", path, query: { ...selectors } });
  }
}
