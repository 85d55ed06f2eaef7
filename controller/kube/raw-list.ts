/**
 * Lists for the informers, as the API server sends them. The generated list methods deserialize into the client's
 * model classes (`LimitRangeItem.default` becomes `_default`, timestamps become Dates) while watch events arrive as
 * plain JSON; an informer fed by both would hold two shapes of the same object, and comparing a desired object
 * with a relisted one would see drift that is not there. So the cache holds wire JSON only, from here and from
 * the watch.
 */
import {
  ApiException,
  HttpMethod,
  ServerConfiguration,
  createConfiguration,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ListPromise,
} from "@kubernetes/client-node";

export interface ListSelectors {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

export function rawLister<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  path: string,
  selectors: ListSelectors = {},
): ListPromise<T> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig has no current cluster");
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kubeConfig },
  });
  return async () => {
    const request = configuration.baseServer.makeRequestContext(path, HttpMethod.GET);
    request.setHeaderParam("Accept", "application/json");
    if (selectors.labelSelector) request.setQueryParam("labelSelector", selectors.labelSelector);
    if (selectors.fieldSelector) request.setQueryParam("fieldSelector", selectors.fieldSelector);
    await kubeConfig.applySecurityAuthentication(request);
    const response = await configuration.httpApi.send(request).toPromise();
    const text = await response.body.text();
    if (response.httpStatusCode < 200 || response.httpStatusCode > 299) {
      throw new ApiException(
        response.httpStatusCode,
        `list ${path}: HTTP ${response.httpStatusCode}`,
        text,
        {},
      );
    }
    return JSON.parse(text) as KubernetesListObject<T>;
  };
}
