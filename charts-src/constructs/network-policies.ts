/**
 * The tenant's NetworkPolicies. Everything is denied, then opened one purpose at a time, each purpose its own
 * object so `kubectl get netpol` reads like the list below:
 *
 * - `default-deny`: no ingress, no egress for any pod of the namespace;
 * - `allow-same-namespace`: pods of the namespace talk to each other (server → Redis, backup job → Redis);
 * - `allow-dns-egress`: the cluster DNS (kube-system, `k8s-app: kube-dns`) on 53 UDP/TCP;
 * - `allow-api-ingress`: the server's HTTP port from the ingress controller and the tenant's `apiAccess`;
 * - `allow-metrics-scrape`: the server's HTTP port (/metrics) from the platform's monitoring namespace;
 * - `allow-webhook-egress`: the server to the tenant's webhook destinations;
 * - `extra-<name>`: each of the tenant's extra rules.
 *
 * No rule admits another tenant's namespace unless the tenant file names it, so tenants cannot reach each other.
 */
import { Construct } from "constructs";
import * as k8s from "cdk8s-plus-33/lib/imports/k8s.js";
import type { ResolvedPlatform, ResolvedTenant } from "../../contracts/resolved-tenant.ts";
import type { LabelSelectorInput, PeerInput } from "../model/tenant-schema.ts";
import { selectorLabels, tenantMetadata } from "./metadata.ts";
import { SERVER_PORT } from "./log-server.ts";

const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

export const byName = (namespace: string): k8s.LabelSelector => ({
  matchLabels: { [NAMESPACE_NAME_LABEL]: namespace },
});

export const tcp = (port: number): k8s.NetworkPolicyPort => ({
  protocol: "TCP",
  port: k8s.IntOrString.fromNumber(port),
});

function selector(input: LabelSelectorInput | undefined): k8s.LabelSelector {
  return input ? { matchLabels: { ...input.matchLabels } } : {};
}

function peer(input: PeerInput): k8s.NetworkPolicyPeer {
  return {
    ipBlock: input.cidr
      ? { cidr: input.cidr, except: input.except ? [...input.except] : undefined }
      : undefined,
    namespaceSelector: input.namespaceSelector ? selector(input.namespaceSelector) : undefined,
    podSelector: input.podSelector ? selector(input.podSelector) : undefined,
  };
}

type Policy = readonly [name: string, spec: k8s.NetworkPolicySpec];

export class NetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, tenant: ResolvedTenant, platform: ResolvedPlatform) {
    super(scope, id);
    for (const [name, spec] of [
      ...baselinePolicies(),
      ...serverPolicies(tenant, platform),
      ...tenant.network.extraRules.map(extraPolicy),
    ]) {
      new k8s.KubeNetworkPolicy(this, name, { metadata: tenantMetadata(tenant, "policy", name), spec });
    }
  }
}

/** Every tenant's: deny all, then the namespace's own pods and the cluster DNS. */
function baselinePolicies(): Policy[] {
  return [
    ["default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }],
    [
      "allow-same-namespace",
      {
        podSelector: {},
        policyTypes: ["Ingress", "Egress"],
        ingress: [{ from: [{ podSelector: {} }] }],
        egress: [{ to: [{ podSelector: {} }] }],
      },
    ],
    [
      "allow-dns-egress",
      {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [
          {
            to: [
              {
                namespaceSelector: byName("kube-system"),
                podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
              },
            ],
            ports: [
              { protocol: "UDP", port: k8s.IntOrString.fromNumber(53) },
              { protocol: "TCP", port: k8s.IntOrString.fromNumber(53) },
            ],
          },
        ],
      },
    ],
  ];
}

/** The server's: its API from the ingress controller and `apiAccess`, metrics scraping, webhook egress. */
function serverPolicies(tenant: ResolvedTenant, platform: ResolvedPlatform): Policy[] {
  const server = { matchLabels: selectorLabels(tenant, "server") };
  const controllerPods = platform.ingress.controllerPodLabels;
  const apiPeers: k8s.NetworkPolicyPeer[] = [
    {
      namespaceSelector: byName(platform.ingress.controllerNamespace),
      podSelector:
        Object.keys(controllerPods).length > 0 ? { matchLabels: { ...controllerPods } } : undefined,
    },
    ...tenant.network.apiAccess.fromNamespaces.map((ns) => ({ namespaceSelector: selector(ns) })),
    ...tenant.network.apiAccess.fromCIDRs.map((cidr) => ({ ipBlock: { cidr } })),
  ];
  const policies: Policy[] = [
    [
      "allow-api-ingress",
      {
        podSelector: server,
        policyTypes: ["Ingress"],
        ingress: [{ from: apiPeers, ports: [tcp(SERVER_PORT)] }],
      },
    ],
  ];
  if (platform.monitoring) {
    policies.push([
      "allow-metrics-scrape",
      {
        podSelector: server,
        policyTypes: ["Ingress"],
        ingress: [
          { from: [{ namespaceSelector: byName(platform.monitoring.namespace) }], ports: [tcp(SERVER_PORT)] },
        ],
      },
    ]);
  }
  if (tenant.network.webhookEgress.length > 0) {
    policies.push([
      "allow-webhook-egress",
      {
        podSelector: server,
        policyTypes: ["Egress"],
        egress: tenant.network.webhookEgress.map((w) => ({
          to: [{ ipBlock: { cidr: w.cidr } }],
          ports: w.ports.map(tcp),
        })),
      },
    ]);
  }
  return policies;
}

/** One of the tenant's extra rules, as its own policy `extra-<name>`. */
function extraPolicy(rule: ResolvedTenant["network"]["extraRules"][number]): Policy {
  const ports = rule.ports?.map((p) => ({
    protocol: p.protocol ?? "TCP",
    port: k8s.IntOrString.fromNumber(p.port),
  }));
  const peers = rule.peers.map(peer);
  return [
    `extra-${rule.name}`,
    {
      podSelector: selector(rule.podSelector),
      policyTypes: [rule.direction === "ingress" ? "Ingress" : "Egress"],
      ...(rule.direction === "ingress"
        ? { ingress: [{ from: peers, ports }] }
        : { egress: [{ to: peers, ports }] }),
    },
  ];
}
