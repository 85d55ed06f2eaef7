/**
 * The three Lease calls leader election needs, on @kubernetes/client-node. A 409 (someone else updated the Lease
 * since we read it, or created it first) becomes `LeaseConflictError`: the normal outcome of a lost race.
 */
import { ApiException, CoordinationV1Api, type KubeConfig, type V1Lease } from "@kubernetes/client-node";

export class LeaseConflictError extends Error {}

export interface LeaseStore {
  /** The Lease, or `undefined` if it does not exist. */
  read(): Promise<V1Lease | undefined>;
  create(lease: V1Lease): Promise<V1Lease>;
  /** Replaces the Lease if its resourceVersion still is `lease.metadata.resourceVersion`. */
  replace(lease: V1Lease): Promise<V1Lease>;
}

export class ApiLeaseStore implements LeaseStore {
  readonly #api: CoordinationV1Api;
  readonly #namespace: string;
  readonly #name: string;

  constructor(kubeConfig: KubeConfig, namespace: string, name: string) {
    this.#api = kubeConfig.makeApiClient(CoordinationV1Api);
    this.#namespace = namespace;
    this.#name = name;
  }

  async read(): Promise<V1Lease | undefined> {
    try {
      return await this.#api.readNamespacedLease({ name: this.#name, namespace: this.#namespace });
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw new Error(`reading Lease ${this.#namespace}/${this.#name}`, { cause: error });
    }
  }

  async create(lease: V1Lease): Promise<V1Lease> {
    return this.#conflicts(() =>
      this.#api.createNamespacedLease({ namespace: this.#namespace, body: lease }),
    );
  }

  async replace(lease: V1Lease): Promise<V1Lease> {
    return this.#conflicts(() =>
      this.#api.replaceNamespacedLease({ name: this.#name, namespace: this.#namespace, body: lease }),
    );
  }

  async #conflicts(call: () => Promise<V1Lease>): Promise<V1Lease> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof ApiException && error.code === 409) {
        throw new LeaseConflictError(`Lease ${this.#namespace}/${this.#name} changed meanwhile`, {
          cause: error,
        });
      }
      throw new Error(`writing Lease ${this.#namespace}/${this.#name}`, { cause: error });
    }
  }
}
