/**
 * The tenant file format: ONE source of truth for the TypeScript types (`Static`), the runtime validation (Ajv
 * over this JSON Schema) and the published editor schema (`schemas/tenant.schema.json`, generated from here).
 *
 * Every optional field documents its default. Defaults come from three layers, most specific last:
 * built-in defaults (`defaults.ts`) ← the plan named by `spec.plan` (platform file) ← the tenant's own spec.
 */
import Type, { type Static } from "typebox";
import { DURATION_PATTERN, DURATION_SYNTAX } from "../../contracts/duration.ts";
import { QUOTA_KEYS, TENANT_API_VERSION } from "../../contracts/resolved-tenant.ts";

// Part of the contract with the controller (contracts/); re-exported so the model reads as one file.
export { QUOTA_KEYS, TENANT_API_VERSION, type QuotaKey } from "../../contracts/resolved-tenant.ts";

// ---------------------------------------------------------------------------------------------- primitives

export const QUANTITY_PATTERN =
  "^[+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$";
export const DNS1123_LABEL_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
export const HOSTNAME_PATTERN = "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/** What each pattern means, for messages a human can act on (validation errors quote these, not regexes). */
export const PATTERN_DESCRIPTIONS: Readonly<Record<string, string>> = {
  [QUANTITY_PATTERN]: "a Kubernetes quantity such as 500m, 2, 512Mi or 10Gi",
  [DURATION_PATTERN]: `a duration: ${DURATION_SYNTAX}`,
  [DNS1123_LABEL_PATTERN]:
    "a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit",
  [HOSTNAME_PATTERN]: "a lowercase DNS host name such as logs.example.com",
};

/** Kubernetes resource quantity, e.g. `500m`, `2`, `512Mi`, `10Gi`. Checked precisely by `quantity.ts`. */
export function quantity(description = "Kubernetes quantity, e.g. 500m, 2, 512Mi, 10Gi") {
  return Type.String({ description, pattern: QUANTITY_PATTERN });
}
export const Quantity = quantity();

/** Duration such as `30s`, `15m`, `12h`, `7d`, `2w` (the one syntax: `contracts/duration.ts`). */
export const Duration = Type.String({
  description: `duration: ${DURATION_SYNTAX}`,
  pattern: DURATION_PATTERN,
});

/** A DNS-1123 label: lowercase alphanumerics and '-', starting and ending alphanumeric, at most 63 chars. */
export function dns1123Label(
  description = "DNS-1123 label: lowercase letters, digits and '-', at most 63 characters",
) {
  return Type.String({ description, pattern: DNS1123_LABEL_PATTERN, maxLength: 63 });
}
export const Dns1123Label = dns1123Label();

/**
 * Longest tenant name whose derived object names stay within Kubernetes limits: a CronJob name may have at most
 * 52 characters (its Jobs append 11), and the longest derived name is `<tenant>-backup` (7 more).
 */
export const MAX_TENANT_NAME_LENGTH = 45;

/** CIDR such as `10.0.0.0/8` or `2001:db8::/32`. Parsed by the semantic checks. */
export const Cidr = Type.String({ description: "an IPv4 or IPv6 CIDR, e.g. 203.0.113.0/24" });

export function stringMap(description = "string keys to string values") {
  return Type.Record(Type.String(), Type.String(), { description });
}
export const StringMap = stringMap();

export function resourceList(description?: string) {
  return Type.Object(
    {
      cpu: Type.Optional(quantity("CPU in cores or millicores, e.g. 500m or 2")),
      memory: Type.Optional(quantity("memory in bytes with a binary suffix, e.g. 512Mi or 2Gi")),
    },
    { additionalProperties: false, ...(description ? { description } : {}) },
  );
}
export const ResourceList = resourceList();

export const Resources = Type.Object(
  {
    requests: Type.Optional(
      Type.Object(ResourceList.properties, {
        additionalProperties: false,
        description: "what the scheduler reserves for the container",
      }),
    ),
    limits: Type.Optional(
      Type.Object(ResourceList.properties, {
        additionalProperties: false,
        description: "the most the container may use",
      }),
    ),
  },
  {
    additionalProperties: false,
    description: "container requests and limits; both are always rendered (defaults from the plan)",
  },
);

/** A reference to a Secret key. Secret values never live in git. */
export const SecretKeyRef = Type.Object(
  {
    name: Dns1123Label,
    key: Type.Optional(Type.String({ description: "key inside the Secret; default depends on the use" })),
  },
  { additionalProperties: false },
);

/** A label selector (matchLabels only: enough for namespace and pod selection, and easy to reason about). */
export function labelSelector(description?: string) {
  return Type.Object(
    { matchLabels: stringMap("labels that must all match") },
    { additionalProperties: false, ...(description ? { description } : {}) },
  );
}
export const LabelSelector = labelSelector();

// --------------------------------------------------------------------------------------------- placement

export const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const;

export const Toleration = Type.Object(
  {
    key: Type.Optional(
      Type.String({
        description: "taint key to tolerate; empty (with operator Exists) tolerates every taint",
      }),
    ),
    operator: Type.Optional(
      Type.Enum(["Exists", "Equal"], {
        description: "Equal: the taint's value must equal value; Exists: any value. Default Equal",
      }),
    ),
    value: Type.Optional(Type.String({ description: "the taint value (Equal only)" })),
    effect: Type.Optional(
      Type.Enum([...TAINT_EFFECTS], { description: "the taint effect tolerated; default: every effect" }),
    ),
    tolerationSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: "NoExecute only: how long the pod stays bound after the taint appears; default forever",
      }),
    ),
  },
  {
    additionalProperties: false,
    title: "Toleration",
    description: "a Kubernetes toleration of a node taint",
  },
);

export const NODE_SELECTOR_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"] as const;

export const NodeSelectorRequirement = Type.Object(
  {
    key: Type.String({ minLength: 1, description: "node label key (matchFields: metadata.name)" }),
    operator: Type.Enum([...NODE_SELECTOR_OPERATORS], {
      description:
        "In/NotIn: one of values or none of them; Exists/DoesNotExist: no values; Gt/Lt: one integer value",
    }),
    values: Type.Optional(
      Type.Array(Type.String(), { description: "the values the operator compares with" }),
    ),
  },
  { additionalProperties: false, description: "a node selector requirement" },
);

export const NodeSelectorTerm = Type.Object(
  {
    matchExpressions: Type.Optional(
      Type.Array(NodeSelectorRequirement, { description: "requirements on node labels, all must hold" }),
    ),
    matchFields: Type.Optional(
      Type.Array(NodeSelectorRequirement, {
        description: "requirements on node fields (metadata.name with In or NotIn), all must hold",
      }),
    ),
  },
  {
    additionalProperties: false,
    title: "NodeSelectorTerm",
    description: "a node selector term: every requirement in it must hold",
  },
);

export const NodeAffinity = Type.Object(
  {
    requiredDuringSchedulingIgnoredDuringExecution: Type.Optional(
      Type.Object(
        {
          nodeSelectorTerms: Type.Array(NodeSelectorTerm, {
            minItems: 1,
            description: "the pod goes to a node matching any of the terms",
          }),
        },
        { additionalProperties: false, description: "nodes the pod may be scheduled to" },
      ),
    ),
    preferredDuringSchedulingIgnoredDuringExecution: Type.Optional(
      Type.Array(
        Type.Object(
          {
            weight: Type.Integer({ minimum: 1, maximum: 100, description: "weight of the preference" }),
            preference: NodeSelectorTerm,
          },
          { additionalProperties: false },
        ),
        { description: "nodes the scheduler prefers, by weight" },
      ),
    ),
  },
  { additionalProperties: false, title: "NodeAffinity", description: "Kubernetes node affinity" },
);

/**
 * Node affinity only: the server's pod anti-affinity (replicas spread over nodes) is NeuralLog's own, and
 * affinity to other workloads' pods is not a tenant's business.
 */
export const Affinity = Type.Object(
  { nodeAffinity: Type.Optional(NodeAffinity) },
  { additionalProperties: false, description: "which nodes the pods may or should run on (node affinity)" },
);

/**
 * Where a workload's pods run (the architecture guide's node selection, under vertical scaling): rendered into
 * the pod spec unchanged. Objects merge with the plan key by key (nodeSelector labels add up); lists replace.
 */
export const PLACEMENT_FIELDS = ["nodeSelector", "tolerations", "affinity"] as const;

export function placementFields(pods: string) {
  return {
    nodeSelector: Type.Optional(stringMap(`labels a node must have to run the ${pods}; default: any node`)),
    tolerations: Type.Optional(
      Type.Array(Toleration, { description: `node taints tolerated by the ${pods}; default: none` }),
    ),
    affinity: Type.Optional(Affinity),
  };
}

// ------------------------------------------------------------------------------------------------- parts

export const OwnerKind = Type.Enum(["User", "Group", "ServiceAccount"], {
  description: "what kind of subject the owner is",
});

export const Owner = Type.Object(
  {
    kind: OwnerKind,
    name: Type.String({
      minLength: 1,
      description: "user, group or service account name as the cluster knows it",
    }),
    email: Type.Optional(Type.String({ format: "email", description: "where to reach the owner" })),
  },
  {
    additionalProperties: false,
    description: "a person, group or service account responsible for the tenant",
  },
);

export const Autoscaling = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: "default: from the plan" })),
    minReplicas: Type.Optional(Type.Integer({ minimum: 1, description: "default: server.replicas" })),
    maxReplicas: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: "default 4" })),
    targetCPUUtilizationPercentage: Type.Optional(
      Type.Integer({ minimum: 10, maximum: 100, description: "default 70" }),
    ),
  },
  { additionalProperties: false, description: "a HorizontalPodAutoscaler on CPU for the server" },
);

export const Ingress = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: "default true" })),
    host: Type.Optional(
      Type.String({
        description:
          "default <tenant>.<platform baseDomain>; must lie under baseDomain or a domain the platform grants in spec.ingress.tenantDomains",
        pattern: HOSTNAME_PATTERN,
        maxLength: 253,
      }),
    ),
    tlsSecretName: Type.Optional(
      Type.String({
        description: "Secret with the TLS certificate; default <tenant>-tls (e.g. from cert-manager)",
      }),
    ),
    className: Type.Optional(
      Type.String({ description: "the platform's ingress class; naming another is an error" }),
    ),
    annotations: Type.Optional(
      stringMap("ingress annotations; only keys on the platform's spec.ingress.tenantAnnotations allow-list"),
    ),
    allowedSourceCIDRs: Type.Optional(
      Type.Array(Cidr, {
        description:
          "client addresses allowed through the ingress (rendered as the ingress controller's allow-list annotation); default: any",
      }),
    ),
  },
  { additionalProperties: false, description: "the Ingress in front of the server, always with TLS" },
);

export const LogRetention = Type.Object(
  {
    maxAge: Type.Optional(Duration),
    maxEntries: Type.Optional(Type.Integer({ minimum: 1000, description: "cap of the tenant's log stream" })),
  },
  { additionalProperties: false, description: "logs older than maxAge or beyond maxEntries are trimmed" },
);

export const Server = Type.Object(
  {
    replicas: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100, description: "default: from the plan" }),
    ),
    resources: Type.Optional(Resources),
    autoscaling: Type.Optional(Autoscaling),
    ingress: Type.Optional(Ingress),
    apiKeysSecret: Type.Optional(
      Type.Object(
        {
          name: Dns1123Label,
          key: Type.Optional(Type.String({ description: "default api-keys.json" })),
        },
        {
          additionalProperties: false,
          description:
            "Secret holding the API keys JSON (NEURALLOG_API_KEYS_FILE); default <tenant>-api-keys, key api-keys.json",
        },
      ),
    ),
    logRetention: Type.Optional(LogRetention),
    rules: Type.Optional(
      Type.Array(Type.Object({}, { additionalProperties: true }), {
        description:
          "alerting rules kept in git (the server's rule format: name, type, when, window, threshold, actions, ...); loaded at server start and read-only through the API; neurallog validate checks them with the server's rule validation; `regex` conditions use the RE2 syntax (linear-time: no backreferences, no lookahead or lookbehind)",
      }),
    ),
    ...placementFields("server pods"),
  },
  { additionalProperties: false, description: "the NeuralLog server Deployment" },
);

export const MaxmemoryPolicy = Type.Enum(
  [
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
  ],
  { description: "default noeviction: logs are trimmed by retention, never evicted silently" },
);

export const Redis = Type.Object(
  {
    storage: Type.Optional(
      Type.Object(
        {
          size: Type.Optional(Quantity),
          storageClassName: Type.Optional(
            Type.String({ description: "default: the platform's storage class" }),
          ),
        },
        {
          additionalProperties: false,
          description: "the Redis data volume (kept when the tenant goes away)",
        },
      ),
    ),
    resources: Type.Optional(Resources),
    maxmemory: Type.Optional(quantity("Redis maxmemory; default: 75% of the Redis memory limit")),
    maxmemoryPolicy: Type.Optional(MaxmemoryPolicy),
    appendfsync: Type.Optional(
      Type.Enum(["always", "everysec", "no"], {
        description: "AOF fsync policy; default everysec",
      }),
    ),
    passwordSecret: Type.Optional(
      Type.Object(
        { name: Dns1123Label, key: Type.Optional(Type.String({ description: "default password" })) },
        {
          additionalProperties: false,
          description:
            "a Secret with the Redis password that the platform team provides (an External Secrets or Vault " +
            "sync, say); default: <tenant>-redis-auth, created once by the controller with a random password",
        },
      ),
    ),
    ...placementFields("Redis pod"),
  },
  { additionalProperties: false, description: "the tenant's Redis: one StatefulSet pod with its own volume" },
);

export const Quota = Type.Object(
  {
    hard: Type.Optional(
      Type.Object(Object.fromEntries(QUOTA_KEYS.map((k) => [k, Type.Optional(Quantity)])), {
        additionalProperties: false,
        description: "ResourceQuota hard limits; default: from the plan",
      }),
    ),
  },
  {
    additionalProperties: false,
    description: "the namespace's ResourceQuota; validate checks it holds the workloads at maximum scale",
  },
);

export const LimitRangeSpec = Type.Object(
  {
    default: Type.Optional(resourceList("limits for containers that set none")),
    defaultRequest: Type.Optional(resourceList("requests for containers that set none")),
    max: Type.Optional(resourceList("the most any container may set as its limit")),
    min: Type.Optional(resourceList("the least any container may request")),
  },
  { additionalProperties: false, description: "per-container LimitRange; default: from the plan" },
);

export const PortSpec = Type.Object(
  {
    port: Type.Integer({
      minimum: 1,
      maximum: 65535,
      description: "port number on the peer or the tenant pod",
    }),
    protocol: Type.Optional(Type.Enum(["TCP", "UDP", "SCTP"], { description: "default TCP" })),
  },
  { additionalProperties: false },
);

export const Peer = Type.Object(
  {
    cidr: Type.Optional(Cidr),
    except: Type.Optional(Type.Array(Cidr, { description: "ranges inside cidr to leave out" })),
    namespaceSelector: Type.Optional(labelSelector("namespaces (by label) of the peer pods")),
    podSelector: Type.Optional(
      labelSelector("pods (by label) of the peer; with namespaceSelector, in those namespaces"),
    ),
  },
  { additionalProperties: false, description: "a NetworkPolicy peer: a CIDR, or namespace/pod selectors" },
);

export const ExtraRule = Type.Object(
  {
    name: dns1123Label("name of the NetworkPolicy; unique among the tenant's extra rules"),
    direction: Type.Enum(["ingress", "egress"], { description: "traffic into or out of the tenant's pods" }),
    podSelector: Type.Optional(labelSelector("the tenant's pods the rule applies to; default: all of them")),
    peers: Type.Array(Peer, { minItems: 1, description: "who may connect (ingress) or be reached (egress)" }),
    ports: Type.Optional(Type.Array(PortSpec, { description: "default: all ports" })),
  },
  { additionalProperties: false, description: "an extra NetworkPolicy rendered as its own object" },
);

export const Network = Type.Object(
  {
    apiAccess: Type.Optional(
      Type.Object(
        {
          fromNamespaces: Type.Optional(
            Type.Array(LabelSelector, {
              description: "namespaces (by label) whose pods may call the API directly",
            }),
          ),
          fromCIDRs: Type.Optional(
            Type.Array(Cidr, { description: "source ranges that may call the API directly" }),
          ),
        },
        {
          additionalProperties: false,
          description: "who may call the server besides the ingress controller (always allowed)",
        },
      ),
    ),
    webhookEgress: Type.Optional(
      Type.Array(
        Type.Object(
          {
            cidr: Cidr,
            ports: Type.Optional(
              Type.Array(Type.Integer({ minimum: 1, maximum: 65535 }), { description: "default [443]" }),
            ),
            description: Type.Optional(Type.String({ description: "free text for humans" })),
            internal: Type.Optional(
              Type.Boolean({
                description:
                  "the range holds internal targets (a self-hosted Alertmanager on a private address): the server " +
                  "refuses loopback, link-local, private and metadata addresses unless an entry says internal: true",
              }),
            ),
          },
          { additionalProperties: false },
        ),
        { description: "destinations the server may send webhooks to; default none" },
      ),
    ),
    extraRules: Type.Optional(
      Type.Array(ExtraRule, { description: "more NetworkPolicies, for traffic the defaults do not allow" }),
    ),
  },
  {
    additionalProperties: false,
    description:
      "NetworkPolicies beyond the defaults (deny all; allow in-namespace, DNS and the ingress controller)",
  },
);

export const Backup = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: "default true" })),
    schedule: Type.Optional(
      Type.String({ description: "cron expression (5 fields); default from the plan" }),
    ),
    timeZone: Type.Optional(Type.String({ description: "IANA time zone for the schedule; default Etc/UTC" })),
    retention: Type.Optional(
      Type.Object(
        {
          keep: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 1000, description: "newest backups kept" }),
          ),
          maxAge: Type.Optional(Duration),
        },
        {
          additionalProperties: false,
          description: "which backups are kept: the newest `keep`, none older than maxAge",
        },
      ),
    ),
    destination: Type.Optional(
      Type.Object(
        {
          type: Type.Optional(
            Type.Literal("volume", { description: "a PVC in the tenant namespace (default)" }),
          ),
          size: Type.Optional(quantity("size of the backup volume")),
          storageClassName: Type.Optional(
            Type.String({ description: "default: the platform's storage class" }),
          ),
        },
        { additionalProperties: false, description: "where backups go" },
      ),
    ),
    ...placementFields("backup job pods"),
  },
  { additionalProperties: false, description: "scheduled Redis snapshots into a volume of the tenant" },
);

export const PLAN_PARTS = ["server", "redis", "quota", "limitRange", "network", "backup"] as const;

// -------------------------------------------------------------------------------------------- the tenant

export const TenantSpec = Type.Object(
  {
    plan: Type.Optional(
      Type.String({ description: "a plan of the platform file; default: the platform's defaultPlan" }),
    ),
    displayName: Type.Optional(
      Type.String({ maxLength: 200, description: "human-readable name; default metadata.name" }),
    ),
    owners: Type.Array(Owner, { minItems: 1, description: "who is responsible for this tenant" }),
    namespace: Type.Optional(dns1123Label("default nl-<name>")),
    suspend: Type.Optional(
      Type.Boolean({
        description: "scale the server to zero and pause backups; data is kept. Default false",
      }),
    ),
    decommission: Type.Optional(
      Type.Boolean({
        description:
          "first step of removing a tenant: server scaled to zero, data kept, a final backup runs. Default false",
      }),
    ),
    labels: Type.Optional(stringMap("added to every rendered object of the tenant")),
    annotations: Type.Optional(stringMap("added to every rendered object of the tenant")),
    server: Type.Optional(Server),
    redis: Type.Optional(Redis),
    quota: Type.Optional(Quota),
    limitRange: Type.Optional(LimitRangeSpec),
    network: Type.Optional(Network),
    backup: Type.Optional(Backup),
  },
  {
    additionalProperties: false,
    description: "what the tenant gets; anything left out comes from its plan, then the built-in defaults",
  },
);

/** Editors may name the schema in the document itself. */
const SchemaHint = Type.String({ description: "the JSON Schema of this file, for editors" });

export const Tenant = Type.Object(
  {
    $schema: Type.Optional(SchemaHint),
    apiVersion: Type.Literal(TENANT_API_VERSION, { description: "version of the tenant file format" }),
    kind: Type.Literal("Tenant", { description: "one tenant per file" }),
    metadata: Type.Object(
      {
        name: Type.String({
          description: `the tenant name: a DNS-1123 label of at most ${MAX_TENANT_NAME_LENGTH} characters, equal to the file name without .yaml`,
          pattern: DNS1123_LABEL_PATTERN,
          maxLength: MAX_TENANT_NAME_LENGTH,
        }),
      },
      { additionalProperties: false, description: "identity of the tenant" },
    ),
    spec: TenantSpec,
  },
  { additionalProperties: false, title: "NeuralLog Tenant" },
);

/** What a plan may preset: the sizing parts of a tenant spec. */
export const PlanSpec = Type.Object(
  {
    description: Type.Optional(Type.String()),
    server: Type.Optional(Server),
    redis: Type.Optional(Redis),
    quota: Type.Optional(Quota),
    limitRange: Type.Optional(LimitRangeSpec),
    network: Type.Optional(Network),
    backup: Type.Optional(Backup),
  },
  { additionalProperties: false },
);

/** An image pinned by tag and/or digest; `latest` or no tag is rejected by the semantic checks. */
export const ImageRef = Type.String({
  description:
    "image reference pinned by tag or digest, e.g. ghcr.io/neurallog/server:0.1.0 or ...@sha256:...",
});

export const PlatformSpec = Type.Object(
  {
    images: Type.Object(
      {
        server: ImageRef,
        redis: ImageRef,
        pullPolicy: Type.Optional(
          Type.Enum(["IfNotPresent", "Always", "Never"], {
            description:
              "imagePullPolicy of every rendered container; default IfNotPresent (Never: images preloaded on the nodes)",
          }),
        ),
      },
      { additionalProperties: false, description: "server image also runs the backup job" },
    ),
    baseDomain: Type.String({ description: "tenant hosts default to <tenant>.<baseDomain>" }),
    ingress: Type.Object(
      {
        className: Type.String({
          description: "IngressClass of every tenant ingress (a tenant may only repeat it)",
        }),
        controllerNamespace: Type.String({ description: "namespace of the ingress controller pods" }),
        controllerPodLabels: Type.Optional(
          stringMap("labels of the ingress controller pods, allowed into tenant namespaces"),
        ),
        proxyCIDRs: Type.Optional(
          Type.Array(Cidr, {
            description:
              "addresses of the ingress controller pods; the servers take the client's address from X-Forwarded-For only when the connection comes from one of these (so failed-authentication limits apply per real client, not to everyone behind the proxy); default: none, the TCP peer counts",
          }),
        ),
        tenantAnnotations: Type.Optional(
          Type.Array(Type.String(), {
            uniqueItems: true,
            description:
              "annotation keys a tenant may set on its ingress; default nginx proxy-body-size, proxy-read/send/connect-timeout, limit-rps/rpm/connections/burst-multiplier; *-snippet, whitelist/denylist-source-range and argocd.argoproj.io/* are refused even if listed",
          }),
        ),
        tenantDomains: Type.Optional(
          Type.Record(Type.String(), Type.Array(Type.String({ pattern: HOSTNAME_PATTERN, maxLength: 253 })), {
            description:
              "domains granted to a tenant (by name) for its ingress host besides baseDomain: the domain itself or any name under it",
          }),
        ),
      },
      { additionalProperties: false, description: "the ingress controller in front of every tenant" },
    ),
    storageClassName: Type.String({ description: "default storage class for Redis and backup volumes" }),
    tenantNamespaces: Type.Optional(
      Type.Object(
        {
          prefix: Type.Optional(
            Type.String({
              pattern: "^[a-z0-9]([-a-z0-9]*)?$",
              maxLength: 20,
              description:
                "every tenant namespace must start with it; default nl- (the default namespace is nl-<name>, so with another prefix tenants set spec.namespace)",
            }),
          ),
          allowed: Type.Optional(
            Type.Array(dns1123Label("a namespace a tenant may use without the prefix"), {
              uniqueItems: true,
              description: "namespaces granted outright (e.g. one that predates the prefix); default none",
            }),
          ),
        },
        {
          additionalProperties: false,
          description:
            "which namespaces tenants may render into: a tenant pull request must not take over cert-manager or kube-system",
        },
      ),
    ),
    monitoring: Type.Optional(
      Type.Object(
        {
          namespace: Type.String({ description: "namespace of Prometheus, allowed to scrape tenants" }),
          prometheusOperator: Type.Optional(
            Type.Object(
              {
                labels: Type.Optional(
                  stringMap(
                    "labels the Prometheus resource's ruleSelector, serviceMonitorSelector and podMonitorSelector match (kube-prometheus-stack: release: <its release name>); default none",
                  ),
                ),
                runbookBaseURL: Type.Optional(
                  Type.String({
                    description:
                      "where alerts' runbook_url point: a URL ending in / under which docs/runbooks/<name>.md is served; default this project's repository",
                  }),
                ),
              },
              {
                additionalProperties: false,
                description:
                  "the Prometheus operator runs in the cluster: render a ServiceMonitor for every tenant's server and the controller, and the platform's PrometheusRule (alerts); default: not rendered",
              },
            ),
          ),
          grafanaDashboards: Type.Optional(
            Type.Object(
              {
                labels: Type.Optional(
                  stringMap(
                    'labels the Grafana dashboard sidecar selects ConfigMaps by; default grafana_dashboard: "1" (kube-prometheus-stack)',
                  ),
                ),
                folder: Type.Optional(
                  Type.String({ description: "the Grafana folder of the dashboard; default NeuralLog" }),
                ),
              },
              {
                additionalProperties: false,
                description:
                  "Grafana loads dashboards from labelled ConfigMaps (its sidecar): render the NeuralLog dashboard into the controller's namespace; default: not rendered",
              },
            ),
          ),
        },
        { additionalProperties: false, description: "the monitoring stack; default: no scraping allowed" },
      ),
    ),
    deploymentRepo: Type.Object(
      {
        url: Type.String({ description: "git URL of the deployment repo Argo CD syncs" }),
        branch: Type.Optional(Type.String({ description: "default main" })),
      },
      { additionalProperties: false, description: "where neurallog publish commits the rendered manifests" },
    ),
    argocd: Type.Optional(
      Type.Object(
        { namespace: Type.Optional(Type.String({ description: "default argocd" })) },
        {
          additionalProperties: false,
          description: "the Argo CD installation that syncs the deployment repo",
        },
      ),
    ),
    controller: Type.Optional(
      Type.Object(
        {
          namespace: Type.Optional(Type.String({ description: "default neurallog-system" })),
          replicas: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 5, description: "default 2 (leader election)" }),
          ),
          mode: Type.Optional(
            Type.Enum(["report-only", "self-heal"], { description: "default report-only" }),
          ),
          ...placementFields("controller pods"),
        },
        { additionalProperties: false, description: "the NeuralLog controller (backups, quota drift)" },
      ),
    ),
    defaultPlan: Type.String({ description: "the plan of tenants that name none" }),
    plans: Type.Record(Type.String({ pattern: DNS1123_LABEL_PATTERN }), PlanSpec, {
      additionalProperties: false,
      description: "plans by name (DNS-1123 labels); tenants pick one with spec.plan",
    }),
  },
  { additionalProperties: false },
);

export const Platform = Type.Object(
  {
    $schema: Type.Optional(SchemaHint),
    apiVersion: Type.Literal(TENANT_API_VERSION, { description: "version of the file format" }),
    kind: Type.Literal("Platform", { description: "the one platform file, tenants/_platform.yaml" }),
    metadata: Type.Object(
      { name: Type.String({ description: "a name for this platform, e.g. the cluster's" }) },
      { additionalProperties: false, description: "identity of the platform" },
    ),
    spec: PlatformSpec,
  },
  { additionalProperties: false, title: "NeuralLog Platform" },
);

export type TenantFile = Static<typeof Tenant>;
export type TenantSpecInput = Static<typeof TenantSpec>;
export type PlatformFile = Static<typeof Platform>;
export type PlanSpecInput = Static<typeof PlanSpec>;
export type ResourceListInput = Static<typeof ResourceList>;
export type PeerInput = Static<typeof Peer>;
export type ExtraRuleInput = Static<typeof ExtraRule>;
export type LabelSelectorInput = Static<typeof LabelSelector>;
export type OwnerInput = Static<typeof Owner>;
export type TolerationInput = Static<typeof Toleration>;
export type NodeSelectorTermInput = Static<typeof NodeSelectorTerm>;
export type AffinityInput = Static<typeof Affinity>;
/** A workload's placement as written (any part may be absent): `placementFields` of any workload. */
export interface PlacementInput {
  readonly nodeSelector?: Record<string, string>;
  readonly tolerations?: TolerationInput[];
  readonly affinity?: AffinityInput;
}
