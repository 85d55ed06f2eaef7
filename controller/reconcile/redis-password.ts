/**
 * The generated Redis password of a tenant whose file names no Secret (ADR 0011): the controller creates
 * `<tenant>-redis-auth` once, with 32 random bytes, and never reads, logs or changes it. Create-only is the whole
 * protocol: a 409 means the Secret exists (made by an earlier run, another replica, or a person rotating it), so
 * the controller needs no right to read any Secret. Until it exists, the tenant's Redis, server and backup pods
 * wait in ContainerCreating (their Secret volume), and no Redis ever runs without a password.
 *
 * Asked on every reconcile, it calls the API only when the Secret was not seen to exist within `recheckMs`
 * (10 minutes): a deleted Secret comes back, without a create per tenant per resync.
 */
import { randomBytes } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import type { ResolvedTenant } from "../../contracts/resolved-tenant.ts";
import { PART_OF, TENANT_LABEL } from "../../contracts/tenant-configmap.ts";
import { AlreadyExistsError, FIELD_MANAGER, type KubeActions } from "../kube/kube-actions.ts";
import { EventReason, EventType } from "./event-reasons.ts";
import type { TenantEvent } from "./event-recorder.ts";

export const PASSWORD_RECHECK_MS = 10 * 60 * 1000;
/** 32 random bytes, base64url: 43 characters that need no quoting in a URL, a shell or redis.conf. */
const PASSWORD_BYTES = 32;

/**
 * The Secret as created. No Argo CD tracking label (app.kubernetes.io/instance): Argo CD must never count it as
 * part of the tenant's application, or a sync with pruning would delete it.
 */
export function generatedPasswordSecret(
  namespace: string,
  tenant: Pick<ResolvedTenant, "name" | "redis">,
  password: string,
): V1Secret {
  const { name, key } = tenant.redis.passwordSecret;
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace,
      labels: {
        [TENANT_LABEL]: tenant.name,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": FIELD_MANAGER,
      },
      annotations: { "neurallog.io/generated": "Redis password, created once by the controller (ADR 0011)" },
    },
    type: "Opaque",
    data: { [key]: Buffer.from(password).toString("base64") },
  };
}

export function newRedisPassword(): string {
  return randomBytes(PASSWORD_BYTES).toString("base64url");
}

export class RedisPasswords {
  readonly #actions: Pick<KubeActions, "createSecret">;
  readonly #recheckMs: number;
  /** namespace → when its Secret was last known to exist. */
  readonly #seenAt = new Map<string, number>();

  constructor(actions: Pick<KubeActions, "createSecret">, options: { readonly recheckMs?: number } = {}) {
    this.#actions = actions;
    this.#recheckMs = options.recheckMs ?? PASSWORD_RECHECK_MS;
  }

  /**
   * Makes sure the tenant's generated Secret exists. Returns the Event to report: Created once, Failed while
   * the create fails (the next reconcile tries again), nothing otherwise. A Secret the tenant file names is the
   * platform team's to create; it is left alone.
   */
  async ensure(namespace: string, tenant: ResolvedTenant, now: Date): Promise<TenantEvent[]> {
    const secret = tenant.redis.passwordSecret;
    if (!secret.generated) return [];
    const seen = this.#seenAt.get(namespace);
    if (seen !== undefined && now.getTime() - seen < this.#recheckMs) return [];
    const subject = `Secret/${secret.name}`;
    try {
      await this.#actions.createSecret(generatedPasswordSecret(namespace, tenant, newRedisPassword()));
      this.#seenAt.set(namespace, now.getTime());
      return [
        {
          type: EventType.Normal,
          reason: EventReason.RedisPasswordCreated,
          subject,
          message: `Secret ${secret.name} created with a random Redis password (key ${secret.key})`,
        },
      ];
    } catch (error) {
      if (error instanceof AlreadyExistsError) {
        this.#seenAt.set(namespace, now.getTime());
        return [];
      }
      this.#seenAt.delete(namespace);
      return [
        {
          type: EventType.Warning,
          reason: EventReason.RedisPasswordFailed,
          subject,
          message:
            `Secret ${secret.name} could not be created: ${(error as Error).message}; the tenant's Redis and ` +
            `server wait for it (docs/runbooks/redis-password.md)`,
        },
      ];
    }
  }

  /** The tenant is gone. */
  forget(namespace: string): void {
    this.#seenAt.delete(namespace);
  }
}
