/**
 * Argo CD objects, hand-typed against the v3.6.1 CRDs (test/cluster/argocd/crds/): only the fields we set.
 * (`cdk8s import` of the ApplicationSet CRD is 3.3 MB of TypeScript; see DESIGN.md.)
 *
 * One AppProject per tenant fences what that tenant's Application may create; one ApplicationSet makes an
 * Application per tenant folder of the deployment repo (docs/adr/0002-applicationset-vs-applications.md).
 */
import { Construct } from "constructs";
import { ApiObject } from "cdk8s";
import type { ResolvedPlatform, ResolvedTenant } from "../../contracts/resolved-tenant.ts";
import { MANAGED_BY, PART_OF, TENANT_LABEL } from "./metadata.ts";

const API_VERSION = "argoproj.io/v1alpha1";
/** The cluster Argo CD runs in; tenants are deployed there and nowhere else. */
export const IN_CLUSTER = "https://kubernetes.default.svc";

/** Where the deployment repo keeps tenant folders, and the one file per folder that names the namespace. */
export const TENANTS_DIR = "tenants";
export const NAMESPACE_FILE_GLOB = `${TENANTS_DIR}/*/namespace-*.yaml`;

export const APPLICATION_SET_NAME = "neurallog-tenants";

/** The AppProject (and the Application) of a tenant. */
export const projectName = (tenant: string) => `nl-${tenant}`;

/** ApplicationSet template parameter holding the tenant name: the basename of the tenant's folder. */
const TENANT_PARAM = "{{ .path.basename }}";

interface GroupKind {
  readonly group: string;
  readonly kind: string;
}

/**
 * The namespaced kinds a tenant folder may contain: exactly what the tenant chart renders (a test checks that
 * every rendered kind is listed). Anything else — Roles, Secrets, other CRDs — is refused by Argo CD.
 */
export const TENANT_NAMESPACED_KINDS: readonly GroupKind[] = [
  { group: "", kind: "ConfigMap" },
  { group: "", kind: "LimitRange" },
  { group: "", kind: "PersistentVolumeClaim" },
  { group: "", kind: "ResourceQuota" },
  { group: "", kind: "Service" },
  { group: "", kind: "ServiceAccount" },
  { group: "apps", kind: "Deployment" },
  { group: "apps", kind: "StatefulSet" },
  { group: "autoscaling", kind: "HorizontalPodAutoscaler" },
  { group: "batch", kind: "CronJob" },
  { group: "batch", kind: "Job" },
  // The server's scrape target, where the platform runs the Prometheus operator (service-monitor.ts).
  { group: "monitoring.coreos.com", kind: "ServiceMonitor" },
  { group: "networking.k8s.io", kind: "Ingress" },
  { group: "networking.k8s.io", kind: "NetworkPolicy" },
  { group: "neurallog.io", kind: "Tenant" },
  { group: "policy", kind: "PodDisruptionBudget" },
  // Only the controller's, to the ClusterRole controller-access.ts renders (drift reports any other).
  { group: "rbac.authorization.k8s.io", kind: "RoleBinding" },
];

/** `spec` of an AppProject (fields of appprojects.argoproj.io v1alpha1 that we use). */
export interface AppProjectSpec {
  readonly description: string;
  readonly sourceRepos: readonly string[];
  readonly destinations: readonly { readonly server: string; readonly namespace: string }[];
  /** `name` (a glob) narrows a kind to named objects; supported by the v3.5 CRD. */
  readonly clusterResourceWhitelist: readonly (GroupKind & { readonly name?: string })[];
  readonly namespaceResourceWhitelist: readonly GroupKind[];
}

/** `spec` of an ApplicationSet (fields of applicationsets.argoproj.io v1alpha1 that we use). */
export interface ApplicationSetSpec {
  readonly goTemplate: boolean;
  readonly goTemplateOptions: readonly string[];
  readonly generators: readonly {
    readonly git: {
      readonly repoURL: string;
      readonly revision: string;
      readonly files: readonly { readonly path: string }[];
    };
  }[];
  readonly syncPolicy: { readonly preserveResourcesOnDeletion: boolean };
  readonly template: {
    readonly metadata: { readonly name: string; readonly labels: Readonly<Record<string, string>> };
    readonly spec: {
      readonly project: string;
      readonly source: { readonly repoURL: string; readonly targetRevision: string; readonly path: string };
      readonly destination: { readonly server: string; readonly namespace: string };
      readonly syncPolicy: {
        readonly automated: { readonly prune: boolean; readonly selfHeal: boolean };
        readonly syncOptions: readonly string[];
        readonly retry: typeof SYNC_RETRY;
      };
    };
  };
}

/**
 * Argo CD retries a failed automated sync 5 times with backoff (5 s doubling to 3 min) at the revision that
 * failed, so a fix pushed meanwhile waits out every retry (~2.5 min) before Argo CD looks at it. `refresh: true`
 * retries with the branch's latest revision instead: reverting a bad commit is picked up at the next retry. The
 * limit and backoff are Argo CD's own defaults, written out so the rendered Application says what it does.
 */
const SYNC_RETRY = {
  limit: 5,
  backoff: { duration: "5s", factor: 2, maxDuration: "3m" },
  refresh: true,
} as const;

function argocdLabels(component: string, tenant?: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "neurallog",
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/part-of": PART_OF,
    "app.kubernetes.io/managed-by": MANAGED_BY,
    ...(tenant ? { "app.kubernetes.io/instance": tenant, [TENANT_LABEL]: tenant } : {}),
  };
}

export class TenantProject extends Construct {
  constructor(scope: Construct, id: string, tenant: ResolvedTenant, platform: ResolvedPlatform) {
    super(scope, id);
    const spec: AppProjectSpec = {
      description: `NeuralLog tenant ${tenant.name}`,
      sourceRepos: [platform.deploymentRepo.url],
      destinations: [{ server: IN_CLUSTER, namespace: tenant.namespace }],
      // Its own Namespace and no other cluster-scoped object.
      clusterResourceWhitelist: [{ group: "", kind: "Namespace", name: tenant.namespace }],
      namespaceResourceWhitelist: TENANT_NAMESPACED_KINDS,
    };
    new ApiObject(this, "project", {
      apiVersion: API_VERSION,
      kind: "AppProject",
      metadata: {
        name: projectName(tenant.name),
        namespace: platform.argocd.namespace,
        labels: { ...tenant.labels, ...argocdLabels("argocd", tenant.name) },
        // Before the ApplicationSet (wave 0) in the app-of-apps sync: the ApplicationSet controller refuses an
        // Application whose AppProject does not exist yet and retries only after 3 minutes (Argo CD v3.6.1,
        // ReconcileRequeueOnValidationError), so a first bootstrap would leave tenants missing that long.
        annotations: { ...tenant.annotations, "argocd.argoproj.io/sync-wave": "-1" },
      },
      spec,
    });
  }
}

export class TenantApplicationSet extends Construct {
  constructor(scope: Construct, id: string, platform: ResolvedPlatform) {
    super(scope, id);
    const repo = platform.deploymentRepo;
    // Parameters: `.path.*` is the tenant folder (its basename is the tenant name); the rest is the tenant's
    // rendered Namespace object, so `.metadata.name` is the namespace even when a tenant overrides it.
    const spec: ApplicationSetSpec = {
      goTemplate: true,
      goTemplateOptions: ["missingkey=error"],
      generators: [
        { git: { repoURL: repo.url, revision: repo.branch, files: [{ path: NAMESPACE_FILE_GLOB }] } },
      ],
      // Removing a tenant folder deletes its Application but never the tenant's objects.
      syncPolicy: { preserveResourcesOnDeletion: true },
      template: {
        metadata: {
          name: projectName(TENANT_PARAM),
          labels: { ...argocdLabels("tenant"), [TENANT_LABEL]: TENANT_PARAM },
        },
        spec: {
          project: projectName(TENANT_PARAM),
          source: { repoURL: repo.url, targetRevision: repo.branch, path: "{{ .path.path }}" },
          destination: { server: IN_CLUSTER, namespace: "{{ .metadata.name }}" },
          syncPolicy: {
            automated: { prune: true, selfHeal: true },
            // No CreateNamespace: the Namespace is rendered (labels, Pod Security) and Argo CD creates one only
            // with `CreateNamespace=true` — "CreateNamespace=false" is no option Argo CD knows, so it is left out.
            syncOptions: ["ServerSideApply=true"],
            retry: SYNC_RETRY,
          },
        },
      },
    };
    new ApiObject(this, "applicationset", {
      apiVersion: API_VERSION,
      kind: "ApplicationSet",
      metadata: {
        name: APPLICATION_SET_NAME,
        namespace: platform.argocd.namespace,
        labels: argocdLabels("argocd"),
      },
      spec,
    });
  }
}
