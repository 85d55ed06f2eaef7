/**
 * Events on tenant Namespaces, without spam. Reconcile is level-based and runs often; an Event is written when
 * a condition appears, then at most once per `repeatAfterMs` while it lasts (as a count bump on the same Event),
 * and again as soon as it reappears after it cleared.
 *
 * Event names are deterministic (namespace, reason, subject), so a new leader that finds the Event already there
 * updates it instead of adding a twin. The Events live in the tenant namespace (the involved object is the
 * tenant Namespace), where the tenant's owners can read them: `kubectl get events -n nl-acme`.
 */
import { createHash } from "node:crypto";
import type { CoreV1Event, V1Namespace } from "@kubernetes/client-node";
import { AlreadyExistsError, NotFoundError, type KubeActions } from "../kube/kube-actions.ts";
import type { EventReason, EventType } from "./event-reasons.ts";

export const REPORTING_CONTROLLER = "neurallog.io/controller";
/** Once a condition was reported, how long it stays quiet while it lasts. */
export const DEFAULT_REPEAT_AFTER_MS = 30 * 60 * 1000;
/** The API server refuses longer Event messages. */
const MAX_MESSAGE = 1024;

export interface TenantEvent {
  readonly type: EventType;
  readonly reason: EventReason;
  /** What the condition is about (`ResourceQuota/neurallog-quota`, `requests.cpu`): one Event per reason+subject. */
  readonly subject: string;
  readonly message: string;
}

interface Recorded {
  readonly name: string;
  readonly count: number;
  readonly at: number;
}

export class EventRecorder {
  readonly #actions: KubeActions;
  readonly #instance: string;
  readonly #repeatAfterMs: number;
  /** namespace → condition key → what was written. */
  readonly #recorded = new Map<string, Map<string, Recorded>>();

  constructor(actions: KubeActions, options: { readonly instance: string; readonly repeatAfterMs?: number }) {
    this.#actions = actions;
    this.#instance = options.instance;
    this.#repeatAfterMs = options.repeatAfterMs ?? DEFAULT_REPEAT_AFTER_MS;
  }

  /**
   * Writes the Events of one reconcile: new conditions are created, lasting ones bumped after the repeat interval,
   * and conditions absent from `events` are forgotten (so they are reported again if they come back).
   */
  async record(namespace: V1Namespace, events: readonly TenantEvent[], now: Date): Promise<void> {
    const name = namespace.metadata?.name ?? "";
    const previous = this.#recorded.get(name) ?? new Map<string, Recorded>();
    const next = new Map<string, Recorded>();
    let complete = false;
    try {
      for (const event of events) {
        const key = `${event.reason}\u0000${event.subject}`;
        if (next.has(key)) continue;
        const seen = previous.get(key);
        if (seen && now.getTime() - seen.at < this.#repeatAfterMs) {
          next.set(key, seen);
          continue;
        }
        next.set(key, await this.#write(namespace, event, seen, now));
      }
      complete = true;
    } finally {
      // After a failure nothing is forgotten: what was written stays recorded, the rest is retried with the
      // reconcile.
      this.#recorded.set(name, complete ? next : new Map([...previous, ...next]));
    }
  }

  /** The tenant is gone: forget what was written for it. */
  forget(namespace: string): void {
    this.#recorded.delete(namespace);
  }

  async #write(
    namespace: V1Namespace,
    event: TenantEvent,
    seen: Recorded | undefined,
    now: Date,
  ): Promise<Recorded> {
    const namespaceName = namespace.metadata?.name ?? "";
    const message =
      event.message.length > MAX_MESSAGE ? `${event.message.slice(0, MAX_MESSAGE - 1)}…` : event.message;
    const name = eventName(namespaceName, event);
    if (seen) {
      try {
        await this.#actions.patchEvent(namespaceName, name, {
          count: seen.count + 1,
          lastTimestamp: now,
          message,
        });
        return { name, count: seen.count + 1, at: now.getTime() };
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        // Expired (Event TTL): write it anew below.
      }
    }
    const body: CoreV1Event = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace: namespaceName },
      involvedObject: {
        apiVersion: "v1",
        kind: "Namespace",
        name: namespaceName,
        // Set to the Namespace itself so the Event may live in the tenant namespace (the API server requires the
        // two to match for Events without eventTime).
        namespace: namespaceName,
        ...(namespace.metadata?.uid ? { uid: namespace.metadata.uid } : {}),
      },
      reason: event.reason,
      message,
      type: event.type,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: "neurallog-controller" },
      reportingComponent: REPORTING_CONTROLLER,
      reportingInstance: this.#instance,
    };
    try {
      await this.#actions.createEvent(body);
      return { name, count: 1, at: now.getTime() };
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) throw error;
      // Written by a previous leader (or before this process restarted): update it rather than add a twin.
      await this.#actions.patchEvent(namespaceName, name, { lastTimestamp: now, message });
      return { name, count: 1, at: now.getTime() };
    }
  }
}

/** `<namespace>.<reason>.<hash of subject>`: stable across replicas and restarts, a valid object name. */
export function eventName(namespace: string, event: Pick<TenantEvent, "reason" | "subject">): string {
  const hash = createHash("sha256")
    .update(`${event.reason}\u0000${event.subject}`)
    .digest("hex")
    .slice(0, 10);
  return `${namespace}.${event.reason.toLowerCase()}.${hash}`;
}
