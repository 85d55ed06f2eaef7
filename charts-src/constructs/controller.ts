/**
 * The platform side: the `neurallog controller` Deployment in its own namespace, its ServiceAccount, a metrics
 * Service, a NetworkPolicy that denies ingress but the metrics scrape, and least-privilege RBAC.
 *
 * RBAC, and why each rule exists (matching what controller/informers and controller/kube call):
 * - read (get/list/watch) namespaces, resourcequotas, limitranges, networkpolicies and cronjobs cluster-wide:
 *   the controller compares desired with actual state, reports quota usage and backup health;
 * - read configmaps, but only those named `neurallog-tenant` (the desired state): the informer lists them with
 *   the field selector `metadata.name=neurallog-tenant`, which RBAC matches against `resourceNames`;
 * - no write on any tenant object here: the ClusterRole `neurallog-controller-tenant` (controller-access.ts)
 *   holds the writes (the generated Redis Secret; quotas, limit ranges and policies in self-heal mode only,
 *   the mode being rendered into the Deployment too, so switching it is one sync that changes both), and only
 *   the RoleBinding synth renders into each tenant namespace grants it, so no other namespace can be written;
 * - read, create and patch events: it reads FailedCreate events (pods refused by quota) and tells humans what
 *   it found through Events of its own;
 * - read tenants (tenants.neurallog.io): their stored status, compared with the new one before any write;
 * - leases in its own namespace only (a Role): leader election between its replicas.
 * Nothing else: no reading secrets, no pods, no update or delete of tenant objects.
 */
import { Construct } from "constructs";
import * as k8s from "cdk8s-plus-33/lib/imports/k8s.js";
import type { ResolvedPlatform } from "../../contracts/resolved-tenant.ts";
import { MANAGED_BY, PART_OF, TENANT_CONFIGMAP_NAME } from "./metadata.ts";
import {
  containerSecurityContext,
  NEURALLOG_UID,
  podSecurityContext,
  TMP_MOUNT,
  TMP_VOLUME,
} from "./pod-security.ts";
import { byName, tcp } from "./network-policies.ts";
import { CONTROLLER_NAME, CONTROLLER_TENANT_ROLE, controllerTenantRules } from "./controller-access.ts";
import { nodeOptionsEnv } from "./node-heap.ts";
import { podPlacement } from "./placement.ts";
import { POD_SECURITY_LABELS } from "./tenant-namespace.ts";
import { TENANT_GROUP, TENANT_PLURAL } from "../../contracts/tenant-status.ts";

export { CONTROLLER_NAME } from "./controller-access.ts";
export const CONTROLLER_METRICS_PORT = 8081;

/** Fixed: the controller's load grows with tenants slowly (informer caches), not with traffic. */
const CONTROLLER_MEMORY_LIMIT = "512Mi";
const CONTROLLER_RESOURCES = {
  requests: { cpu: k8s.Quantity.fromString("100m"), memory: k8s.Quantity.fromString("256Mi") },
  limits: { cpu: k8s.Quantity.fromString("1"), memory: k8s.Quantity.fromString(CONTROLLER_MEMORY_LIMIT) },
};

const READ = ["get", "list", "watch"];

/** The metrics Service's port name (what the controller's ServiceMonitor scrapes). */
export const CONTROLLER_METRICS_PORT_NAME = "metrics";

export class Controller extends Construct {
  /** The labels of the controller's metrics Service (a ServiceMonitor selects it by them). */
  readonly metricsServiceLabels: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, platform: ResolvedPlatform) {
    super(scope, id);
    const namespace = platform.controller.namespace;
    const selector = {
      "app.kubernetes.io/name": "neurallog",
      "app.kubernetes.io/instance": CONTROLLER_NAME,
      "app.kubernetes.io/component": "controller",
    };
    // The metrics Service is the controller's only Service: the pods' selector labels select it alone.
    this.metricsServiceLabels = selector;
    const labels = {
      ...selector,
      "app.kubernetes.io/part-of": PART_OF,
      "app.kubernetes.io/managed-by": MANAGED_BY,
    };
    const metadata = (name: string, wave = 0) => ({
      name,
      namespace,
      labels,
      annotations: { "argocd.argoproj.io/sync-wave": String(wave) },
    });

    new k8s.KubeNamespace(this, "namespace", {
      metadata: {
        name: namespace,
        labels: { ...labels, ...POD_SECURITY_LABELS },
        annotations: { "argocd.argoproj.io/sync-wave": "-1" },
      },
    });

    addRbac(this, platform, metadata);

    const metricsPort = k8s.IntOrString.fromString("metrics");
    new k8s.KubeDeployment(this, "deployment", {
      metadata: metadata(CONTROLLER_NAME, 1),
      spec: {
        replicas: platform.controller.replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels,
            annotations: {
              "prometheus.io/scrape": "true",
              "prometheus.io/port": String(CONTROLLER_METRICS_PORT),
              "prometheus.io/path": "/metrics",
            },
          },
          spec: {
            serviceAccountName: CONTROLLER_NAME,
            automountServiceAccountToken: true,
            enableServiceLinks: false,
            securityContext: podSecurityContext(NEURALLOG_UID),
            ...podPlacement(platform.controller.placement),
            containers: [controllerContainer(platform, metricsPort)],
            volumes: [TMP_VOLUME],
          },
        },
      },
    });

    new k8s.KubeNetworkPolicy(this, "network-policy", {
      metadata: metadata(CONTROLLER_NAME),
      spec: controllerIngress(platform),
    });

    new k8s.KubeService(this, "metrics-service", {
      metadata: metadata(`${CONTROLLER_NAME}-metrics`, 1),
      spec: {
        type: "ClusterIP",
        selector,
        ports: [
          { name: CONTROLLER_METRICS_PORT_NAME, port: CONTROLLER_METRICS_PORT, targetPort: metricsPort },
        ],
      },
    });
  }
}

/**
 * Default-deny ingress for the controller's namespace: nothing calls the controller but the monitoring
 * namespace's scrapers, on the metrics port (the kubelet's probes come from the node and are not subject to it).
 * Egress stays open: its only peer is the API server, whose address (an endpoint outside the pod network,
 * different on every cluster) a rendered policy cannot name without the platform team saying it.
 */
function controllerIngress(platform: ResolvedPlatform): k8s.NetworkPolicySpec {
  return {
    podSelector: {},
    policyTypes: ["Ingress"],
    ingress: platform.monitoring
      ? [
          {
            from: [{ namespaceSelector: byName(platform.monitoring.namespace) }],
            ports: [tcp(CONTROLLER_METRICS_PORT)],
          },
        ]
      : [],
  };
}

type ObjectMetadata = (name: string, wave?: number) => k8s.ObjectMeta & { namespace: string };

/**
 * The controller's ServiceAccount and RBAC: read what it watches cluster-wide, its Lease in its own namespace,
 * and the ClusterRole the tenant namespaces bind it to (writes only there; ADR 0005, ADR 0011).
 */
function addRbac(scope: Construct, platform: ResolvedPlatform, metadata: ObjectMetadata): void {
  const namespace = platform.controller.namespace;
  new k8s.KubeServiceAccount(scope, "service-account", {
    metadata: metadata(CONTROLLER_NAME),
    // Only the controller pod mounts a token (see the pod spec), not every pod that might use this account.
    automountServiceAccountToken: false,
  });

  const { namespace: _cluster, ...clusterMetadata } = metadata(CONTROLLER_NAME);
  new k8s.KubeClusterRole(scope, "cluster-role", {
    metadata: clusterMetadata,
    rules: [
      { apiGroups: [""], resources: ["namespaces"], verbs: READ },
      { apiGroups: [""], resources: ["configmaps"], resourceNames: [TENANT_CONFIGMAP_NAME], verbs: READ },
      { apiGroups: [""], resources: ["resourcequotas", "limitranges"], verbs: READ },
      { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: READ },
      // Read only, in self-heal mode too: any Role or RoleBinding in a tenant namespace but the controller's own
      // is drift, reported and never deleted.
      { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], verbs: READ },
      { apiGroups: ["batch"], resources: ["cronjobs"], verbs: READ },
      { apiGroups: [""], resources: ["events"], verbs: [...READ, "create", "patch"] },
      // Its stored status is what a new status is compared with; writing it is the tenant role's.
      { apiGroups: [TENANT_GROUP], resources: [TENANT_PLURAL], verbs: READ },
    ],
  });
  new k8s.KubeClusterRole(scope, "tenant-role", {
    metadata: { ...clusterMetadata, name: CONTROLLER_TENANT_ROLE },
    rules: controllerTenantRules(platform),
  });
  const subject = { kind: "ServiceAccount", name: CONTROLLER_NAME, namespace };
  new k8s.KubeClusterRoleBinding(scope, "cluster-role-binding", {
    metadata: clusterMetadata,
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: CONTROLLER_NAME },
    subjects: [subject],
  });
  new k8s.KubeRole(scope, "leader-election-role", {
    metadata: metadata(CONTROLLER_NAME),
    rules: [
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        verbs: ["get", "create", "update"],
      },
    ],
  });
  new k8s.KubeRoleBinding(scope, "leader-election-binding", {
    metadata: metadata(CONTROLLER_NAME),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: CONTROLLER_NAME },
    subjects: [subject],
  });
}

function controllerContainer(platform: ResolvedPlatform, metricsPort: k8s.IntOrString): k8s.Container {
  return {
    name: "controller",
    image: platform.images.server,
    imagePullPolicy: platform.images.pullPolicy,
    command: ["neurallog", "controller"],
    env: [
      nodeOptionsEnv(CONTROLLER_MEMORY_LIMIT),
      { name: "NEURALLOG_CONTROLLER_MODE", value: platform.controller.mode },
      { name: "NEURALLOG_METRICS_PORT", value: String(CONTROLLER_METRICS_PORT) },
      // Leader election identity and the namespace of its Lease.
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    ],
    ports: [{ name: "metrics", containerPort: CONTROLLER_METRICS_PORT, protocol: "TCP" }],
    resources: CONTROLLER_RESOURCES,
    securityContext: containerSecurityContext,
    livenessProbe: { httpGet: { path: "/healthz", port: metricsPort }, periodSeconds: 10 },
    readinessProbe: { httpGet: { path: "/healthz", port: metricsPort }, periodSeconds: 5 },
    volumeMounts: [TMP_MOUNT],
  };
}
