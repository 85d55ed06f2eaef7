/**
 * STAND-IN FOR ARGO CD, for tests only. There is no Argo CD in the test cluster (only its CRDs); this module does
 * what Argo CD's sync does for the deployment repo, closely enough to prove the rendered manifests behave under it:
 *
 * - Applications come from the repo's own `argocd/` objects: Applications as written, and ApplicationSets with a
 *   git directories generator expanded over the checkout (the `{{path...}}` template forms only). The repoURL in
 *   them is ignored: the stand-in syncs from the local bare repo it is given.
 * - Sync = clone at a revision, read the Application's path, check each object against the AppProject
 *   (destinations, cluster resource whitelist), apply with server-side apply (strict, via applyManifests) in
 *   Argo CD's order: sync wave, then kind (Namespace, policies, ... workloads, Ingress), then name; wait for each
 *   wave to be healthy before the next; then prune the objects tracked for the Application that left git, except
 *   those annotated `argocd.argoproj.io/sync-options: Prune=false` (only when automated prune is on).
 * - Deleting an Application (its tenant's folder left git) cascades only if the Application would carry Argo CD's
 *   resources finalizer (an ApplicationSet without `preserveResourcesOnDeletion: true`), and even then spares
 *   objects annotated `Delete=false`.
 * - Objects are tracked like Argo CD's default annotation tracking: `argocd.argoproj.io/tracking-id`.
 *
 * Not modelled: hooks (refused), Replace/Force sync options, self-heal, ignoreDifferences, multiple sources.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { AppsV1Api, CoreV1Api, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { simpleGit } from "simple-git";
import { applyManifests, objectRef } from "./apply-manifests.ts";
import { parseManifests } from "./manifest-files.ts";
import { ObjectApi } from "./object-api.ts";

export const TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id";
export const SYNC_WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave";
export const SYNC_OPTIONS_ANNOTATION = "argocd.argoproj.io/sync-options";
const HOOK_ANNOTATIONS = ["argocd.argoproj.io/hook", "helm.sh/hook"];
/** Argo CD's field manager for server-side apply. */
export const ARGOCD_FIELD_MANAGER = "argocd-controller";

/**
 * Argo CD's (gitops-engine's) kind order within a wave, taken from Helm's install order. Unknown kinds go last.
 */
export const KIND_ORDER = [
  "Namespace",
  "NetworkPolicy",
  "ResourceQuota",
  "LimitRange",
  "PodSecurityPolicy",
  "PodDisruptionBudget",
  "ServiceAccount",
  "Secret",
  "SecretList",
  "ConfigMap",
  "StorageClass",
  "PersistentVolume",
  "PersistentVolumeClaim",
  "CustomResourceDefinition",
  "ClusterRole",
  "ClusterRoleList",
  "ClusterRoleBinding",
  "ClusterRoleBindingList",
  "Role",
  "RoleList",
  "RoleBinding",
  "RoleBindingList",
  "Service",
  "DaemonSet",
  "Pod",
  "ReplicationController",
  "ReplicaSet",
  "Deployment",
  "HorizontalPodAutoscaler",
  "StatefulSet",
  "Job",
  "CronJob",
  "IngressClass",
  "Ingress",
  "APIService",
];

export interface StandInApplication {
  readonly name: string;
  readonly project: string;
  /** Path of the manifests in the repo. */
  readonly path: string;
  readonly destinationNamespace: string | undefined;
  /** spec.syncPolicy.automated.prune */
  readonly prune: boolean;
  /** Whether deleting the Application deletes its resources (Argo CD's resources finalizer). */
  readonly cascadeOnDelete: boolean;
  /** spec.syncPolicy.syncOptions */
  readonly syncOptions: readonly string[];
}

export interface StandInProject {
  readonly name: string;
  readonly destinations: readonly { namespace?: string; server?: string; name?: string }[];
  readonly clusterResourceWhitelist: readonly ResourceRule[];
  /** Empty means any namespaced kind (Argo CD's default when the list is absent). */
  readonly namespaceResourceWhitelist: readonly ResourceRule[];
}

export interface ResourceRule {
  readonly group?: string;
  readonly kind?: string;
  /** Argo CD 3.x may restrict a cluster-scoped kind to names. */
  readonly name?: string;
}

export interface Checkout {
  readonly dir: string;
  readonly sha: string;
  remove(): Promise<void>;
}

/** Clones `repo` (a path or URL of a bare repository) and checks out `revision` in a temp directory. */
export async function checkoutRevision(repo: string, revision: string): Promise<Checkout> {
  const dir = await mkdtemp(join(tmpdir(), "nl-argo-standin-"));
  try {
    await simpleGit().clone(repo, dir, ["--no-checkout", "--quiet"]);
    const git = simpleGit(dir);
    await git.checkout(["--quiet", "--detach", revision]);
    const sha = (await git.revparse(["HEAD"])).trim();
    return { dir, sha, remove: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`cannot check out ${revision} of ${repo}`, { cause: error });
  }
}

async function yamlFilesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

export async function readObjectsUnder(dir: string): Promise<KubernetesObject[]> {
  const objects: KubernetesObject[] = [];
  for (const file of await yamlFilesUnder(dir))
    objects.push(...parseManifests(await readFile(file, "utf8"), file));
  return objects;
}

type Json = Record<string, unknown>;
const asJson = (value: unknown): Json => (typeof value === "object" && value !== null ? (value as Json) : {});
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const asString = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/** Path parameters Argo CD gives a generated Application for a directory (directories) or a file (files). */
function pathParameters(dirPath: string, file?: string): Json {
  const normalize = (text: string) => text.toLowerCase().replace(/[^a-z0-9-.]/g, "-");
  const base = basename(dirPath);
  return {
    path: dirPath,
    basename: base,
    basenameNormalized: normalize(base),
    segments: dirPath.split("/"),
    ...(file ? { filename: basename(file), filenameNormalized: normalize(basename(file)) } : {}),
  };
}

function lookup(parameters: Json, dotted: string, text: string): string {
  let value: unknown = parameters;
  for (const key of dotted.split(".")) {
    if (typeof value !== "object" || value === null || !(key in value)) {
      // As with goTemplateOptions missingkey=error: a typo in the template must not render as an empty string.
      throw new Error(`template "${text}": no parameter "${dotted}"`);
    }
    value = (value as Json)[key];
  }
  if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
    throw new Error(`template "${text}": parameter "${dotted}" is not a scalar`);
  }
  return String(value);
}

/**
 * The template expressions of the generators the stand-in models: `{{ .a.b }}` (Go template) or `{{a.b}}`
 * (fasttemplate) parameter lookups, fasttemplate's `{{path}}` and `{{path[N]}}`, and Go template's
 * `{{ index .path.segments N }}`. Anything else is refused rather than guessed.
 */
function expandString(text: string, parameters: Json): string {
  return text.replace(/\{\{(.*?)\}\}/g, (_, raw: string) => {
    const expression = raw.trim();
    const index = /^index\s+\.path\.segments\s+(\d+)$/.exec(expression) ?? /^path\[(\d+)\]$/.exec(expression);
    if (index) return lookup(parameters, `path.segments.${index[1]}`, text);
    if (expression === "path") return lookup(parameters, "path.path", text);
    if (/^\.?[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$/.test(expression)) {
      return lookup(parameters, expression.replace(/^\./, ""), text);
    }
    throw new Error(`the Argo CD stand-in does not model the template expression "{{${raw}}}"`);
  });
}

function expandTemplate(value: unknown, parameters: Json): unknown {
  if (typeof value === "string") return expandString(value, parameters);
  if (Array.isArray(value)) return value.map((v) => expandTemplate(v, parameters));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandTemplate(v, parameters)]));
  }
  return value;
}

function applicationFrom(app: Json, cascadeOnDelete: boolean): StandInApplication {
  const metadata = asJson(app.metadata);
  const spec = asJson(app.spec);
  const source = asJson(spec.source);
  const syncPolicy = asJson(spec.syncPolicy);
  const name = asString(metadata.name);
  const path = asString(source.path);
  if (!name || !path)
    throw new Error(`Application ${name ?? "?"}: the stand-in needs metadata.name and spec.source.path`);
  if (spec.sources !== undefined) throw new Error(`Application ${name}: multiple sources are not modelled`);
  return {
    name,
    project: asString(spec.project) ?? "default",
    path,
    destinationNamespace: asString(asJson(spec.destination).namespace),
    prune: asJson(syncPolicy.automated).prune === true,
    cascadeOnDelete,
    syncOptions: asArray(syncPolicy.syncOptions).filter((o): o is string => typeof o === "string"),
  };
}

/**
 * Paths in the checkout matching a generator pattern like `tenants/*` or `tenants/*\/namespace-*.yaml`
 * (`*` within one path segment, as Argo CD's globs), directories or files as asked.
 */
async function matchPaths(
  checkoutDir: string,
  pattern: string,
  want: "directory" | "file",
): Promise<string[]> {
  const parts = pattern.split("/");
  let candidates = [""];
  for (const [i, part] of parts.entries()) {
    const last = i === parts.length - 1;
    const regex = new RegExp(`^${part.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`);
    const next: string[] = [];
    for (const prefix of candidates) {
      const dir = join(checkoutDir, prefix);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const kindOk = last && want === "file" ? entry.isFile() : entry.isDirectory();
        if (kindOk && !entry.name.startsWith(".") && regex.test(entry.name)) {
          next.push(prefix ? `${prefix}/${entry.name}` : entry.name);
        }
      }
    }
    candidates = next;
  }
  return candidates.sort();
}

/** Each generated Application's parameters, for a git directories or git files generator. */
async function generatorParameters(checkoutDir: string, generator: Json, appSet: string): Promise<Json[]> {
  const git = asJson(generator.git);
  if (Object.keys(generator).length !== 1 || generator.git === undefined) {
    throw new Error(`ApplicationSet ${appSet}: only git generators are modelled`);
  }
  if (Array.isArray(git.directories)) {
    const included = new Set<string>();
    const excluded = new Set<string>();
    for (const entry of git.directories.map(asJson)) {
      for (const match of await matchPaths(checkoutDir, asString(entry.path) ?? "", "directory")) {
        (entry.exclude === true ? excluded : included).add(match);
      }
    }
    return [...included].filter((d) => !excluded.has(d)).map((d) => ({ path: pathParameters(d) }));
  }
  if (Array.isArray(git.files)) {
    const parameters: Json[] = [];
    for (const entry of git.files.map(asJson)) {
      for (const file of await matchPaths(checkoutDir, asString(entry.path) ?? "", "file")) {
        // A files generator's parameters are the file's own content, plus the path parameters.
        const content = parseManifests(await readFile(join(checkoutDir, file), "utf8"), file)[0] ?? {};
        const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : ".";
        parameters.push({ ...(content as unknown as Json), path: pathParameters(dir, file) });
      }
    }
    return parameters;
  }
  throw new Error(`ApplicationSet ${appSet}: only git directories and files generators are modelled`);
}

/** What Argo CD would run from the repo's `argocd/` folder at this checkout. */
export async function applicationsInCheckout(
  checkoutDir: string,
  argocdPath = "argocd",
): Promise<{ applications: StandInApplication[]; projects: StandInProject[] }> {
  const objects = await readObjectsUnder(join(checkoutDir, argocdPath));
  const applications: StandInApplication[] = [];
  const projects: StandInProject[] = [];
  for (const object of objects) {
    const json = object as unknown as Json;
    if (object.kind === "AppProject") {
      const spec = asJson(json.spec);
      projects.push({
        name: object.metadata?.name ?? "?",
        destinations: asArray(spec.destinations).map(asJson) as StandInProject["destinations"],
        clusterResourceWhitelist: asArray(spec.clusterResourceWhitelist).map(asJson) as ResourceRule[],
        namespaceResourceWhitelist: asArray(spec.namespaceResourceWhitelist).map(asJson) as ResourceRule[],
      });
    } else if (object.kind === "Application") {
      const finalizers = object.metadata?.finalizers ?? [];
      applications.push(
        applicationFrom(
          json,
          finalizers.some((f) => f.startsWith("resources-finalizer.argocd")),
        ),
      );
    } else if (object.kind === "ApplicationSet") {
      const spec = asJson(json.spec);
      const preserve = asJson(spec.syncPolicy).preserveResourcesOnDeletion === true;
      for (const generator of asArray(spec.generators).map(asJson)) {
        for (const parameters of await generatorParameters(
          checkoutDir,
          generator,
          object.metadata?.name ?? "?",
        )) {
          applications.push(applicationFrom(asJson(expandTemplate(spec.template, parameters)), !preserve));
        }
      }
    }
  }
  return { applications, projects };
}

function syncWave(object: KubernetesObject): number {
  const raw = object.metadata?.annotations?.[SYNC_WAVE_ANNOTATION] ?? "0";
  const wave = Number(raw);
  if (!Number.isInteger(wave)) throw new Error(`${objectRef(object)}: sync-wave "${raw}" is not an integer`);
  return wave;
}

export function syncOptionsOf(object: KubernetesObject): string[] {
  const raw = object.metadata?.annotations?.[SYNC_OPTIONS_ANNOTATION];
  return raw ? raw.split(",").map((o) => o.trim()) : [];
}

function kindRank(kind: string | undefined): number {
  const index = KIND_ORDER.indexOf(kind ?? "");
  return index === -1 ? KIND_ORDER.length : index;
}

/** Argo CD's apply order: wave, kind, name. */
export function syncOrder(objects: readonly KubernetesObject[]): KubernetesObject[] {
  return [...objects].sort(
    (a, b) =>
      syncWave(a) - syncWave(b) ||
      kindRank(a.kind) - kindRank(b.kind) ||
      (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""),
  );
}

function trackingId(app: string, object: KubernetesObject): string {
  const group = object.apiVersion?.includes("/") ? object.apiVersion.split("/")[0] : "";
  const namespace = object.metadata?.namespace ?? "";
  return `${app}:${group}/${object.kind}:${namespace}/${object.metadata?.name}`;
}

function globMatch(pattern: string | undefined, value: string): boolean {
  if (pattern === undefined || pattern === "*") return true;
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`).test(value);
}

const permits = (rule: ResourceRule, group: string, kind: string, name?: string): boolean =>
  globMatch(rule.group, group) &&
  globMatch(rule.kind, kind) &&
  (name === undefined || globMatch(rule.name, name));

/** Argo CD refuses to sync what the Application's project does not permit; so does the stand-in. */
function projectViolation(
  project: StandInProject,
  object: KubernetesObject,
  namespaced: boolean,
): string | undefined {
  const group = object.apiVersion?.includes("/") ? (object.apiVersion.split("/")[0] ?? "") : "";
  const kind = object.kind ?? "";
  const name = object.metadata?.name ?? "";
  if (namespaced) {
    const namespace = object.metadata?.namespace ?? "";
    if (!project.destinations.some((d) => globMatch(d.namespace, namespace))) {
      return `namespace ${namespace} is not a destination of AppProject ${project.name}`;
    }
    const whitelist = project.namespaceResourceWhitelist;
    if (whitelist.length > 0 && !whitelist.some((rule) => permits(rule, group, kind))) {
      return `${group || "core"}/${kind} is not in AppProject ${project.name}'s namespaceResourceWhitelist`;
    }
    return undefined;
  }
  if (!project.clusterResourceWhitelist.some((rule) => permits(rule, group, kind, name))) {
    return `cluster-scoped ${group || "core"}/${kind} ${name} is not in AppProject ${project.name}'s clusterResourceWhitelist`;
  }
  if (kind === "Namespace" && !project.destinations.some((d) => globMatch(d.namespace, name))) {
    return `Namespace ${name} is not a destination of AppProject ${project.name}`;
  }
  return undefined;
}

/** Argo CD's built-in health for the kinds the tenants use; everything else is healthy once applied. */
async function unhealthy(kc: KubeConfig, objects: readonly KubernetesObject[]): Promise<string[]> {
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const problems: string[] = [];
  for (const object of objects) {
    const name = object.metadata?.name ?? "";
    const namespace = object.metadata?.namespace ?? "";
    if (object.kind === "Deployment") {
      const d = await apps.readNamespacedDeployment({ name, namespace });
      const want = d.spec?.replicas ?? 1;
      const ok =
        (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
        (d.status?.updatedReplicas ?? 0) >= want &&
        (d.status?.availableReplicas ?? 0) >= want;
      if (!ok) problems.push(`${objectRef(object)}: ${d.status?.availableReplicas ?? 0}/${want} available`);
    } else if (object.kind === "StatefulSet") {
      const s = await apps.readNamespacedStatefulSet({ name, namespace });
      const want = s.spec?.replicas ?? 1;
      if ((s.status?.readyReplicas ?? 0) < want) {
        problems.push(`${objectRef(object)}: ${s.status?.readyReplicas ?? 0}/${want} ready`);
      }
    } else if (object.kind === "PersistentVolumeClaim") {
      const c = await core.readNamespacedPersistentVolumeClaim({ name, namespace });
      if (c.status?.phase !== "Bound") problems.push(`${objectRef(object)}: ${c.status?.phase}`);
    }
  }
  return problems;
}

async function waitHealthy(
  kc: KubeConfig,
  objects: readonly KubernetesObject[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const problems = await unhealthy(kc, objects);
    if (problems.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`sync wave not healthy after ${timeoutMs} ms: ${problems.join("; ")}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Every live object tracked for the Application. Argo CD only manages kinds its AppProject permits, so with the
 * project at hand only those kinds are listed; without it, every listable kind.
 */
export async function trackedObjects(
  kc: KubeConfig,
  appName: string,
  project?: StandInProject,
): Promise<KubernetesObject[]> {
  const api = ObjectApi.forConfig(kc);
  const group = (apiVersion: string) => (apiVersion.includes("/") ? (apiVersion.split("/")[0] ?? "") : "");
  const types = (await api.listableResourceTypes()).filter((t) => {
    if (t.kind === "Event" || (t.apiVersion === "v1" && t.kind === "ComponentStatus")) return false;
    if (!project) return true;
    if (!t.namespaced)
      return project.clusterResourceWhitelist.some((r) => permits(r, group(t.apiVersion), t.kind));
    const whitelist = project.namespaceResourceWhitelist;
    return whitelist.length === 0 || whitelist.some((r) => permits(r, group(t.apiVersion), t.kind));
  });
  const lists = await Promise.all(
    types.map(async (type) => ({ type, list: await api.listWhenReady(type.apiVersion, type.kind) })),
  );
  return lists.flatMap(({ type, list }) =>
    list.items
      .filter((item) => item.metadata?.annotations?.[TRACKING_ANNOTATION]?.startsWith(`${appName}:`))
      .map((item) => ({ ...item, apiVersion: type.apiVersion, kind: type.kind })),
  );
}

function projectOf(app: StandInApplication, projects: readonly StandInProject[]): StandInProject {
  const project = projects.find((p) => p.name === app.project);
  if (!project) throw new Error(`Application ${app.name}: AppProject ${app.project} is not in the repo`);
  return project;
}

export interface SyncResult {
  readonly application: string;
  readonly applied: string[];
  readonly pruned: string[];
  /** Tracked objects that left git but carry Prune=false. */
  readonly keptFromPrune: string[];
}

export interface SyncOptions {
  /** How long a wave may take to become healthy. Default: 60 s. */
  readonly waveTimeoutMs?: number;
}

/**
 * The Application's objects from git as Argo CD would apply them: namespaced objects without a namespace get the
 * destination namespace, each carries its tracking id, and each is checked against the AppProject.
 */
async function desiredObjects(
  api: ObjectApi,
  checkout: Checkout,
  app: StandInApplication,
  projects: readonly StandInProject[],
): Promise<KubernetesObject[]> {
  const project = projectOf(app, projects);
  const desired: KubernetesObject[] = [];
  for (const object of await readObjectsUnder(join(checkout.dir, app.path))) {
    const ref = objectRef(object);
    if (HOOK_ANNOTATIONS.some((h) => object.metadata?.annotations?.[h] !== undefined)) {
      throw new Error(`${app.name}: ${ref} is a hook; the Argo CD stand-in does not run hooks`);
    }
    const namespaced = await api.isNamespaced(object);
    const withNamespace =
      namespaced && !object.metadata?.namespace
        ? { ...object, metadata: { ...object.metadata, namespace: app.destinationNamespace } }
        : object;
    const violation = projectViolation(project, withNamespace, namespaced);
    if (violation) throw new Error(`${app.name}: ${ref}: ${violation}`);
    const id = trackingId(app.name, withNamespace);
    desired.push({
      ...withNamespace,
      metadata: {
        ...withNamespace.metadata,
        annotations: { ...withNamespace.metadata?.annotations, [TRACKING_ANNOTATION]: id },
      },
    });
  }
  return desired;
}

/** One Application's sync from a checkout. */
export async function syncApplication(
  kc: KubeConfig,
  checkout: Checkout,
  app: StandInApplication,
  projects: readonly StandInProject[],
  options: SyncOptions = {},
): Promise<SyncResult> {
  const api = ObjectApi.forConfig(kc);
  const desired = await desiredObjects(api, checkout, app, projects);
  if (app.syncOptions.includes("CreateNamespace=true") && app.destinationNamespace) {
    const namespace = { apiVersion: "v1", kind: "Namespace", metadata: { name: app.destinationNamespace } };
    if (!desired.some((o) => o.kind === "Namespace" && o.metadata?.name === app.destinationNamespace)) {
      await applyManifests(kc, [namespace], { fieldManager: ARGOCD_FIELD_MANAGER });
    }
  }

  const ordered = syncOrder(desired);
  const applied: string[] = [];
  const waves = [...new Set(ordered.map(syncWave))];
  for (const wave of waves) {
    const objects = ordered.filter((o) => syncWave(o) === wave);
    await applyManifests(kc, objects, { fieldManager: ARGOCD_FIELD_MANAGER });
    applied.push(...objects.map(objectRef));
    await waitHealthy(kc, objects, options.waveTimeoutMs ?? 60_000);
  }

  const wanted = new Set(desired.map((o) => trackingId(app.name, o)));
  const leftGit = (await trackedObjects(kc, app.name, projectOf(app, projects))).filter(
    (o) => !wanted.has(o.metadata?.annotations?.[TRACKING_ANNOTATION] ?? ""),
  );
  const pruned: string[] = [];
  const keptFromPrune: string[] = [];
  // Reverse order: workloads before the policies and namespace they live in.
  for (const object of syncOrder(leftGit).reverse()) {
    if (!app.prune || syncOptionsOf(object).includes("Prune=false")) {
      keptFromPrune.push(objectRef(object));
      continue;
    }
    await api.delete(object, undefined, undefined, undefined, undefined, "Foreground");
    pruned.push(objectRef(object));
  }
  return { application: app.name, applied, pruned, keptFromPrune };
}

/** An object's state without what the server alone decides (identity, bookkeeping, status). */
function comparable(object: KubernetesObject): unknown {
  const { status: _status, ...rest } = object as KubernetesObject & { status?: unknown };
  const metadata = { ...rest.metadata };
  for (const volatile of [
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
  ] as const) {
    delete metadata[volatile];
  }
  return { ...rest, metadata };
}

/**
 * What Argo CD would show as OutOfSync for the Application (its server-side diff): objects whose live state
 * differs from what applying git would produce (a dry-run apply), objects missing from the cluster, and tracked
 * objects that left git and would be pruned. Empty when the cluster matches git.
 */
export async function outOfSync(
  kc: KubeConfig,
  checkout: Checkout,
  app: StandInApplication,
  projects: readonly StandInProject[],
): Promise<string[]> {
  const api = ObjectApi.forConfig(kc);
  const desired = await desiredObjects(api, checkout, app, projects);
  const differences: string[] = [];
  for (const object of desired) {
    const live = await api.readRaw(object);
    if (!live) {
      differences.push(`${objectRef(object)}: missing`);
      continue;
    }
    const dryRun = await api.applyStrict(object, { fieldManager: ARGOCD_FIELD_MANAGER, dryRun: true });
    if (dryRun.status !== 200) {
      throw new Error(`${objectRef(object)}: dry-run apply: HTTP ${dryRun.status} ${dryRun.body}`);
    }
    const wouldBe = JSON.parse(dryRun.body) as KubernetesObject;
    if (JSON.stringify(comparable(wouldBe)) !== JSON.stringify(comparable(live))) {
      differences.push(`${objectRef(object)}: differs from git`);
    }
  }
  const wanted = new Set(desired.map((o) => trackingId(app.name, o)));
  for (const object of await trackedObjects(kc, app.name, projectOf(app, projects))) {
    const id = object.metadata?.annotations?.[TRACKING_ANNOTATION] ?? "";
    if (!wanted.has(id) && app.prune && !syncOptionsOf(object).includes("Prune=false")) {
      differences.push(`${objectRef(object)}: left git, would be pruned`);
    }
  }
  return differences;
}

export interface DeleteResult {
  readonly deleted: string[];
  readonly kept: string[];
}

/** What Argo CD does when an Application goes away (e.g. its tenant's folder left git). */
export async function deleteApplication(kc: KubeConfig, app: StandInApplication): Promise<DeleteResult> {
  const tracked = await trackedObjects(kc, app.name);
  if (!app.cascadeOnDelete) return { deleted: [], kept: tracked.map(objectRef) };
  const api = ObjectApi.forConfig(kc);
  const deleted: string[] = [];
  const kept: string[] = [];
  for (const object of syncOrder(tracked).reverse()) {
    if (syncOptionsOf(object).includes("Delete=false")) {
      kept.push(objectRef(object));
      continue;
    }
    await api.delete(object, undefined, undefined, undefined, undefined, "Foreground");
    deleted.push(objectRef(object));
  }
  return { deleted, kept };
}

/**
 * One reconciliation of the repo at `revision`, as Argo CD with automated sync would end up: every Application
 * the repo defines (narrowed by `select`) is synced; Applications of `previous` no longer among them are deleted.
 */
export async function syncRepository(
  kc: KubeConfig,
  repo: string,
  revision: string,
  previous: readonly StandInApplication[] = [],
  options: SyncOptions = {},
  select: (applications: StandInApplication[]) => StandInApplication[] = (applications) => applications,
): Promise<{
  sha: string;
  applications: StandInApplication[];
  synced: SyncResult[];
  removed: DeleteResult[];
}> {
  const checkout = await checkoutRevision(repo, revision);
  try {
    const found = await applicationsInCheckout(checkout.dir);
    const applications = select(found.applications);
    const synced: SyncResult[] = [];
    for (const app of applications)
      synced.push(await syncApplication(kc, checkout, app, found.projects, options));
    const removed: DeleteResult[] = [];
    for (const gone of previous.filter((p) => !applications.some((a) => a.name === p.name))) {
      removed.push(await deleteApplication(kc, gone));
    }
    return { sha: checkout.sha, applications, synced, removed };
  } finally {
    await checkout.remove();
  }
}
