/**
 * What the GitOps cluster tests read and nudge in the real Argo CD that argo-cd.ts runs: the one-time `argocd/`
 * bootstrap applied the way a platform team applies it, Applications' sync and health as Argo CD reports them
 * (status.sync / status.health, never a sync operation's "Succeeded": SSA accepts a misspelled field and the app
 * then stays OutOfSync), and the documented refresh annotations that make Argo CD look at git now instead of at
 * its next poll.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  CustomObjectsApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { parse } from "yaml";
import { applyManifests } from "../apply-manifests.ts";
import { readManifestFile } from "../manifest-files.ts";
import { ObjectApi } from "../object-api.ts";
import { ARGOCD_NAMESPACE } from "./argo-cd.ts";
import { REPO_ROOT } from "../rendered-repo.ts";

const BOOTSTRAP_DIR = join(REPO_ROOT, "argocd");
/** The placeholder URL the committed bootstrap carries (README step 3 tells a platform team to replace it). */
export const PLACEHOLDER_REPO_URL = "https://git.example.com/platform/neurallog-deploy.git";
const GROUP = "argoproj.io";
const VERSION = "v1alpha1";

export interface ApplicationStatus {
  readonly sync?: { status?: string; revision?: string };
  readonly health?: { status?: string; message?: string };
  readonly operationState?: {
    phase?: string;
    message?: string;
    syncResult?: { revision?: string; resources?: { kind?: string; name?: string; message?: string }[] };
  };
  readonly conditions?: { type?: string; message?: string }[];
  readonly resources?: {
    group?: string;
    kind?: string;
    namespace?: string;
    name?: string;
    status?: string;
    health?: { status?: string; message?: string };
  }[];
}

export interface Application extends KubernetesObject {
  readonly status?: ApplicationStatus;
}

/**
 * `kubectl apply -k argocd/` after README step 3's `sed` of the repo URL: the kustomization's resources, with every
 * occurrence of the placeholder replaced by `repoUrl`, server-side applied as the platform team.
 */
export async function applyBootstrap(kc: KubeConfig, repoUrl: string): Promise<string[]> {
  const kustomization = parse(readFileSync(join(BOOTSTRAP_DIR, "kustomization.yaml"), "utf8")) as {
    resources: string[];
  };
  const objects = kustomization.resources.flatMap((file) =>
    readManifestFile(join(BOOTSTRAP_DIR, file)).map(
      (object) =>
        JSON.parse(JSON.stringify(object).replaceAll(PLACEHOLDER_REPO_URL, repoUrl)) as KubernetesObject,
    ),
  );
  const applied = await applyManifests(kc, objects, { fieldManager: "neurallog-platform-team" });
  return applied.map((a) => a.ref);
}

const custom = (kc: KubeConfig) => kc.makeApiClient(CustomObjectsApi);

async function readArgo<T>(kc: KubeConfig, plural: string, name: string): Promise<T | undefined> {
  try {
    return (await custom(kc).getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ARGOCD_NAMESPACE,
      plural,
      name,
    })) as T;
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

export const readApplication = (kc: KubeConfig, name: string) =>
  readArgo<Application>(kc, "applications", name);
export const readAppProject = (kc: KubeConfig, name: string) =>
  readArgo<KubernetesObject>(kc, "appprojects", name);
export const readApplicationSet = (kc: KubeConfig, name: string) =>
  readArgo<KubernetesObject>(kc, "applicationsets", name);

async function annotate(kc: KubeConfig, kind: string, name: string, annotations: Record<string, string>) {
  await ObjectApi.forConfig(kc).patch(
    { apiVersion: `${GROUP}/${VERSION}`, kind, metadata: { name, namespace: ARGOCD_NAMESPACE, annotations } },
    undefined,
    undefined,
    "neurallog-test",
    undefined,
    PatchStrategy.MergePatch,
  );
}

/** `argocd app get --refresh`: Argo CD compares the Application with git now (and the controller drops the annotation). */
export const refreshApplication = (kc: KubeConfig, name: string) =>
  annotate(kc, "Application", name, { "argocd.argoproj.io/refresh": "normal" });

/** The ApplicationSet controller's documented refresh: it runs its generators against git now. */
export const refreshApplicationSet = (kc: KubeConfig, name: string) =>
  annotate(kc, "ApplicationSet", name, { "argocd.argoproj.io/application-set-refresh": "true" });

/** Synced to `revision` (when given) and Healthy, as Argo CD itself reports it, with no operation running. */
export function syncedAndHealthy(app: Application | undefined, revision?: string): boolean {
  const status = app?.status;
  return (
    status?.sync?.status === "Synced" &&
    status.health?.status === "Healthy" &&
    (revision === undefined || status.sync.revision === revision) &&
    status.operationState?.phase !== "Running"
  );
}

/** One line of what Argo CD says about an Application, for failure messages. */
export function describeApplication(app: Application | undefined): string {
  if (!app) return "absent";
  const s = app.status ?? {};
  const unhealthy = (s.resources ?? [])
    .filter((r) => r.status !== "Synced" || (r.health && r.health.status !== "Healthy"))
    .map((r) =>
      `${r.kind}/${r.name} ${r.status ?? ""} ${r.health?.status ?? ""} ${r.health?.message ?? ""}`.trim(),
    );
  return [
    `${app.metadata?.name}: sync ${s.sync?.status} @${s.sync?.revision?.slice(0, 8)}`,
    `health ${s.health?.status}${s.health?.message ? ` (${s.health.message})` : ""}`,
    `operation ${s.operationState?.phase ?? "-"}${s.operationState?.message ? ` (${s.operationState.message})` : ""}`,
    ...(s.conditions ?? []).map((c) => `${c.type}: ${c.message}`),
    ...unhealthy,
  ].join("; ");
}

/**
 * Polls until `check` holds for what Argo CD reports, refreshing the Application (when `refresh` names one) on
 * each round so Argo CD re-reads git instead of waiting for its poll; fails with Argo CD's own account of the
 * last state it saw.
 */
export async function waitForArgo<T>(
  what: string,
  read: () => Promise<T>,
  check: (value: T) => boolean,
  options: { timeoutMs?: number; describe?: (value: T) => string; refresh?: () => Promise<void> } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  let refreshed = 0;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}: ${options.describe?.(value) ?? JSON.stringify(value)}`);
    }
    // A refresh every ~5 s: often enough to skip Argo CD's poll, rarely enough not to restart its comparison.
    if (options.refresh && Date.now() - refreshed > 5_000) {
      await options.refresh();
      refreshed = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Waits until the Application is Synced (to `revision`, if given) and Healthy. */
export function waitSyncedAndHealthy(
  kc: KubeConfig,
  name: string,
  revision?: string,
  timeoutMs = 180_000,
): Promise<Application | undefined> {
  return waitForArgo(
    `Application ${name} Synced${revision ? ` to ${revision.slice(0, 8)}` : ""} and Healthy`,
    () => readApplication(kc, name),
    (app) => syncedAndHealthy(app, revision),
    {
      timeoutMs,
      describe: describeApplication,
      refresh: async () => {
        if (await readApplication(kc, name)) await refreshApplication(kc, name);
      },
    },
  );
}

/** A node of the resource tree Argo CD keeps for an Application (what `argocd app resources` and the UI show). */
export interface ResourceNode {
  readonly kind?: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly health?: { status?: string; message?: string };
}

/**
 * The Application's resource tree, where Argo CD v3 keeps each resource's health: the controller no longer writes
 * it into `status.resources` (`--persist-resource-health` defaults to false), the API server and UI read it from
 * Argo CD's Redis, key `app|resources-tree|<app>|<cache version>.gz` (gzipped JSON). Read there, as they do.
 */
export async function readResourceTree(redisAddress: string, app: string): Promise<ResourceNode[]> {
  const [host, port] = redisAddress.split(":");
  const redis = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const keys = await redis.keys(`app|resources-tree|${app}|*.gz`);
    if (keys.length !== 1)
      throw new Error(`expected one resource tree of ${app} in Argo CD's Redis, got ${keys}`);
    const data = await redis.getBuffer(keys[0]!);
    if (!data) throw new Error(`the resource tree of ${app} vanished from Argo CD's Redis`);
    return (JSON.parse(gunzipSync(data).toString("utf8")) as { nodes?: ResourceNode[] }).nodes ?? [];
  } finally {
    redis.disconnect();
  }
}
