/**
 * Checks over every object synth renders for the examples plus variants that switch on what the examples leave
 * off: each file is one Kubernetes object, every pod is hardened, every tenant object stays in its namespace
 * and names no other tenant, policies isolate tenants, Argo CD fences each tenant, and each tenant option shows
 * up where a user would look for it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { App, Chart } from "cdk8s";
import { tenantObjects } from "../../charts-src/charts/tenant-chart.ts";
import { Controller } from "../../charts-src/constructs/controller.ts";
import { IN_CLUSTER, TENANT_NAMESPACED_KINDS } from "../../charts-src/constructs/argocd.ts";
import { DESIRED_STATE_KEY, type TenantDesiredState } from "../../contracts/tenant-configmap.ts";
import { loadTenantTree, validTree } from "../../charts-src/model/load.ts";
import type { ResolvedPlatform } from "../../contracts/resolved-tenant.ts";
import type { SynthTenant } from "../../charts-src/model/resolve.ts";
import { parseQuantity } from "../../contracts/quantity.ts";
import { exampleTenants, VARIANTS, writeTenantDir } from "./tenant-sets.ts";
import { readOutput, renderTenantDir } from "./render-tree.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- walking manifests

interface Rendered {
  readonly file: string;
  readonly text: string;
  readonly object: Json;
}

let work: string;
let platform: ResolvedPlatform;
let tenants: SynthTenant[];
let files: Rendered[];
/** Objects of `tenants/<name>/`. */
const tenantFolder = (name: string) => files.filter((f) => f.file.startsWith(`tenants/${name}/`));
const folder = (name: "argocd" | "platform") => files.filter((f) => f.file.startsWith(`${name}/`));
const tenant = (name: string) => tenants.find((t) => t.name === name)!;
function one(name: string, kind: string, objectName?: string): Json {
  const found = tenantFolder(name).filter(
    (f) => f.object.kind === kind && (objectName === undefined || f.object.metadata.name === objectName),
  );
  expect(
    found.map((f) => f.file),
    `${kind} ${objectName ?? ""} of ${name}`,
  ).toHaveLength(1);
  return found[0]!.object;
}
const none = (name: string, kind: string) =>
  expect(
    tenantFolder(name)
      .filter((f) => f.object.kind === kind)
      .map((f) => f.file),
  ).toEqual([]);

/** Pod templates of workload objects (CronJobs through their job template). */
function podTemplates(objects: readonly Json[]): { owner: string; template: Json }[] {
  return objects.flatMap((o) => {
    const owner = `${o.kind} ${o.metadata.name}`;
    if (["Deployment", "StatefulSet", "Job"].includes(o.kind)) return [{ owner, template: o.spec.template }];
    if (o.kind === "CronJob") return [{ owner, template: o.spec.jobTemplate.spec.template }];
    return [];
  });
}

function env(container: Json, name: string): Json | undefined {
  return (container.env as Json[] | undefined)?.find((e) => e.name === name);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "nl-rendered-"));
  writeTenantDir(join(work, "tenants"), { ...exampleTenants(), ...VARIANTS });
  const tree = validTree(await loadTenantTree(join(work, "tenants")))!;
  platform = tree.platform;
  tenants = tree.tenants;
  await renderTenantDir(join(work, "tenants"), join(work, "out"));
  files = [...readOutput(join(work, "out"))].map(([file, text]) => ({
    file,
    text,
    object: YAML.parse(text) as Json,
  }));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("every rendered file", () => {
  it("holds one Kubernetes object with apiVersion, kind and metadata.name, named <kind>-<name>.yaml", () => {
    expect(files.length).toBeGreaterThan(100);
    for (const { file, text } of files) {
      const docs = YAML.parseAllDocuments(text);
      expect(docs, file).toHaveLength(1);
      expect(docs[0]!.errors, file).toEqual([]);
      const object = docs[0]!.toJS() as Json;
      expect(typeof object.apiVersion, file).toBe("string");
      expect(typeof object.kind, file).toBe("string");
      expect(typeof object.metadata?.name, file).toBe("string");
      expect(file.split("/").pop()).toBe(`${object.kind}-${object.metadata.name}.yaml`.toLowerCase());
    }
  });

  it("reads the same as YAML 1.1 (kubectl, Argo CD) and YAML 1.2", () => {
    for (const { file, text, object } of files)
      expect(YAML.parse(text, { version: "1.1" }), file).toEqual(object);
  });

  it("gives each tenant a folder, and nothing else under tenants/", () => {
    const folders = new Set(
      files.filter((f) => f.file.startsWith("tenants/")).map((f) => f.file.split("/")[1]),
    );
    expect([...folders].sort()).toEqual(tenants.map((t) => t.name).sort());
  });
});

describe("tenant objects", () => {
  it("stay in the tenant namespace; the only cluster-scoped one is the tenant's own Namespace", () => {
    for (const t of tenants) {
      for (const { file, object } of tenantFolder(t.name)) {
        if (object.kind === "Namespace") expect(object.metadata, file).toMatchObject({ name: t.namespace });
        else expect(object.metadata.namespace, file).toBe(t.namespace);
      }
      one(t.name, "Namespace");
    }
  });

  it("never name another tenant: no other namespace, no other tenant's object names", () => {
    for (const t of tenants) {
      const text = tenantFolder(t.name)
        .map((f) => f.text)
        .join("\n");
      for (const other of tenants.filter((o) => o !== t)) {
        expect(text, `${t.name} mentions ${other.namespace}`).not.toMatch(
          new RegExp(`\\b${other.namespace}\\b`),
        );
        expect(text, `${t.name} mentions ${other.name}-*`).not.toMatch(new RegExp(`\\b${other.name}-`));
        expect(text, `${t.name} mentions tenant ${other.name}`).not.toContain(
          `neurallog.io/tenant: ${other.name}\n`,
        );
      }
    }
  });

  it("carry the standard labels, the tenant's labels and annotations, and a sync wave", () => {
    for (const t of tenants) {
      for (const { file, object } of tenantFolder(t.name)) {
        expect(object.metadata.labels, file).toMatchObject({
          ...t.labels,
          "neurallog.io/tenant": t.name,
          "app.kubernetes.io/instance": t.name,
          "app.kubernetes.io/part-of": "neurallog",
          "app.kubernetes.io/managed-by": "neurallog-synth",
        });
        expect(object.metadata.labels["app.kubernetes.io/name"], file).toBeTruthy();
        expect(object.metadata.labels["app.kubernetes.io/component"], file).toBeTruthy();
        expect(object.metadata.annotations, file).toMatchObject(t.annotations);
        expect(object.metadata.annotations["argocd.argoproj.io/sync-wave"], file).toMatch(/^-?\d+$/);
      }
    }
  });

  it("sync in waves: namespace, then policies, then Redis, then the server, then backups", () => {
    const stages = [
      ["Namespace"],
      ["ResourceQuota", "LimitRange", "NetworkPolicy"],
      ["StatefulSet"],
      ["Deployment"],
      ["CronJob", "Job"],
    ];
    for (const t of tenants) {
      const waves = stages.map((kinds) =>
        tenantFolder(t.name)
          .filter((f) => kinds.includes(f.object.kind))
          .map((f) => Number(f.object.metadata.annotations["argocd.argoproj.io/sync-wave"])),
      );
      for (let i = 1; i < waves.length; i++) {
        if (waves[i]!.length === 0) continue;
        const earlier = waves.slice(0, i).flat();
        expect(Math.max(...earlier), `${t.name}: stage ${i}`).toBeLessThan(Math.min(...waves[i]!));
      }
    }
  });

  it("protect data: Namespace, StatefulSet and PVCs are never pruned or deleted by Argo CD", () => {
    for (const t of tenants) {
      for (const { file, object } of tenantFolder(t.name)) {
        if (["Namespace", "StatefulSet", "PersistentVolumeClaim"].includes(object.kind)) {
          expect(object.metadata.annotations["argocd.argoproj.io/sync-options"], file).toBe(
            "Prune=false,Delete=false",
          );
        }
      }
      const redis = one(t.name, "StatefulSet");
      expect(redis.spec.persistentVolumeClaimRetentionPolicy).toEqual({
        whenDeleted: "Retain",
        whenScaled: "Retain",
      });
      expect(redis.spec.volumeClaimTemplates).toEqual([
        {
          metadata: { name: "data", labels: redis.spec.selector.matchLabels },
          spec: {
            accessModes: ["ReadWriteOnce"],
            storageClassName: t.redis.storage.storageClassName,
            resources: { requests: { storage: t.redis.storage.size } },
          },
        },
      ]);
    }
  });
});

describe("every pod", () => {
  const allPods = () =>
    podTemplates(
      [...files.filter((f) => f.file.startsWith("tenants/")), ...folder("platform")].map((f) => f.object),
    );

  it("runs non-root with seccomp RuntimeDefault; tenant pods mount no service account token", () => {
    expect(allPods().length).toBeGreaterThan(tenants.length * 2);
    for (const { owner, template } of allPods()) {
      const pod = template.spec;
      expect(pod.securityContext, owner).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(pod.securityContext.runAsUser, owner).toBeGreaterThan(0);
      expect(pod.securityContext.runAsGroup, owner).toBeGreaterThan(0);
      if (owner !== "Deployment neurallog-controller")
        expect(pod.automountServiceAccountToken, owner).toBe(false);
    }
    const redisPods = allPods().filter((p) => p.owner.startsWith("StatefulSet"));
    // A uid no node knows (999 is a Debian system account), with the volume handed over by fsGroup.
    for (const { owner, template } of redisPods) {
      expect(template.spec.securityContext.runAsUser, owner).toBeGreaterThanOrEqual(10_000);
      expect(template.spec.securityContext.fsGroup, owner).toBe(template.spec.securityContext.runAsUser);
    }
  });

  it("has hardened containers with requests, limits, a pinned image pulled IfNotPresent", () => {
    const images = new Set([platform.images.server, platform.images.redis]);
    for (const { owner, template } of allPods()) {
      for (const c of [...(template.spec.initContainers ?? []), ...template.spec.containers] as Json[]) {
        const where = `${owner} ${c.name}`;
        expect(c.securityContext, where).toEqual({
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          privileged: false,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        });
        for (const part of ["requests", "limits"]) {
          expect(Object.keys(c.resources?.[part] ?? {}).sort(), `${where} ${part}`).toEqual([
            "cpu",
            "memory",
          ]);
        }
        expect(images.has(c.image), where).toBe(true);
        expect(c.image, where).toMatch(/@sha256:[0-9a-f]{64}$|:(?!latest$)[\w.-]+$/);
        expect(c.imagePullPolicy, where).toBe("IfNotPresent");
      }
    }
  });

  it("sizes the Node heap of every NeuralLog container from its own memory limit, not the image's 256 MiB", () => {
    const flags = (owner: string) => {
      const c = allPods().find((p) => p.owner === owner)!.template.spec.containers[0];
      return env(c, "NODE_OPTIONS")?.value as string | undefined;
    };
    // small (256Mi), standard (512Mi), large (1Gi); the backup job (256Mi) and the controller (512Mi).
    expect(flags("Deployment initech-server")).toBe("--max-semi-space-size=8 --max-old-space-size=129");
    expect(flags("Deployment acme-server")).toBe("--max-semi-space-size=16 --max-old-space-size=259");
    expect(flags("Deployment globex-server")).toBe("--max-semi-space-size=16 --max-old-space-size=566");
    expect(flags("CronJob acme-backup")).toBe("--max-semi-space-size=8 --max-old-space-size=129");
    expect(flags("Deployment neurallog-controller")).toBe(
      "--max-semi-space-size=16 --max-old-space-size=259",
    );
    const MiB = 1024 * 1024;
    for (const { owner, template } of allPods()) {
      for (const c of template.spec.containers as Json[]) {
        if (c.image !== platform.images.server) continue;
        const [, semi, old] = /^--max-semi-space-size=(\d+) --max-old-space-size=(\d+)$/
          .exec(env(c, "NODE_OPTIONS")?.value ?? "")!
          .map(Number);
        // The whole heap (old space + three semi-spaces) stays at 60% of the container's limit.
        expect((old! + 3 * semi!) * MiB, owner).toBeLessThanOrEqual(
          0.6 * parseQuantity(c.resources.limits.memory)!,
        );
      }
    }
  });

  it("writes only to explicit volumes: /tmp, and every mount has its volume", () => {
    for (const { owner, template } of allPods()) {
      const claims = new Set<string>();
      for (const f of files) {
        if (f.object.kind === "StatefulSet" && f.object.spec.template === template) {
          for (const claim of f.object.spec.volumeClaimTemplates) claims.add(claim.metadata.name);
        }
      }
      const volumes = new Set([...(template.spec.volumes ?? []).map((v: Json) => v.name), ...claims]);
      for (const c of template.spec.containers as Json[]) {
        const mounts = (c.volumeMounts ?? []) as Json[];
        expect(
          mounts.find((m) => m.mountPath === "/tmp"),
          `${owner} /tmp`,
        ).toBeTruthy();
        for (const m of mounts) expect(volumes.has(m.name), `${owner} mount ${m.name}`).toBe(true);
      }
    }
  });

  it("of long-running workloads has liveness and readiness probes (the server also a startup probe)", () => {
    for (const { owner, template } of allPods().filter((p) => /^(Deployment|StatefulSet)/.test(p.owner))) {
      for (const c of template.spec.containers as Json[]) {
        expect(c.livenessProbe, owner).toBeTruthy();
        expect(c.readinessProbe, owner).toBeTruthy();
      }
    }
    for (const t of tenants) {
      const server = one(t.name, "Deployment").spec.template.spec.containers[0];
      expect(server.ports).toEqual([{ name: "http", containerPort: 8080, protocol: "TCP" }]);
      expect(server.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
      expect(server.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
      expect(server.startupProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    }
  });
});

describe("network policies", () => {
  const policies = (name: string) => tenantFolder(name).filter((f) => f.object.kind === "NetworkPolicy");
  const policy = (name: string, policyName: string) => one(name, "NetworkPolicy", policyName).spec;

  it("deny everything by default, allow the namespace itself and DNS", () => {
    for (const t of tenants) {
      expect(policy(t.name, "default-deny")).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
      expect(policy(t.name, "allow-same-namespace")).toEqual({
        podSelector: {},
        policyTypes: ["Ingress", "Egress"],
        ingress: [{ from: [{ podSelector: {} }] }],
        egress: [{ to: [{ podSelector: {} }] }],
      });
      expect(policy(t.name, "allow-dns-egress").egress).toEqual([
        {
          to: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
              podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
            },
          ],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
      ]);
    }
  });

  it("admit other namespaces only as the platform or the tenant file says, never all of them", () => {
    for (const t of tenants) {
      const declared = new Set([
        platform.ingress.controllerNamespace,
        ...(platform.monitoring ? [platform.monitoring.namespace] : []),
        ...t.network.apiAccess.fromNamespaces.map((s) => s.matchLabels["kubernetes.io/metadata.name"]),
        ...t.network.extraRules.flatMap((r) =>
          r.peers.map((p) => p.namespaceSelector?.matchLabels["kubernetes.io/metadata.name"]),
        ),
      ]);
      const declaredCidrs = new Set([
        ...t.network.apiAccess.fromCIDRs,
        ...t.network.extraRules.flatMap((r) => r.peers.map((p) => p.cidr)),
      ]);
      for (const { file, object } of policies(t.name)) {
        for (const rule of (object.spec.ingress ?? []) as Json[]) {
          for (const peer of rule.from as Json[]) {
            if (peer.ipBlock) expect(declaredCidrs.has(peer.ipBlock.cidr), file).toBe(true);
            if (!peer.namespaceSelector) continue;
            const labels = peer.namespaceSelector.matchLabels ?? {};
            expect(
              Object.keys(labels).length,
              `${file}: a namespaceSelector that selects every namespace`,
            ).toBe(1);
            expect(declared.has(labels["kubernetes.io/metadata.name"]), file).toBe(true);
            expect(tenants.map((o) => o.namespace)).not.toContain(labels["kubernetes.io/metadata.name"]);
          }
        }
      }
    }
  });

  it("let the server be called by the ingress controller and the tenant's API clients, and scraped", () => {
    const globex = policy("globex", "allow-api-ingress");
    const server = { matchLabels: one("globex", "Deployment").spec.selector.matchLabels };
    expect(globex).toEqual({
      podSelector: server,
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } },
              podSelector: { matchLabels: { "app.kubernetes.io/name": "ingress-nginx" } },
            },
            { ipBlock: { cidr: "10.20.0.0/16" } },
          ],
          ports: [{ protocol: "TCP", port: 8080 }],
        },
      ],
    });
    expect(policy("acme", "allow-api-ingress").ingress[0].from[1]).toEqual({
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "acme-collectors" } },
    });
    expect(policy("acme", "allow-metrics-scrape")).toEqual({
      podSelector: { matchLabels: one("acme", "Deployment").spec.selector.matchLabels },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
          ports: [{ protocol: "TCP", port: 8080 }],
        },
      ],
    });
  });

  it("open webhook egress only for tenants that list destinations, to exactly those", () => {
    expect(policy("globex", "allow-webhook-egress").egress).toEqual([
      {
        to: [{ ipBlock: { cidr: "198.51.100.0/24" } }],
        ports: [
          { protocol: "TCP", port: 443 },
          { protocol: "TCP", port: 8443 },
        ],
      },
    ]);
    for (const t of tenants.filter((t) => t.network.webhookEgress.length === 0)) {
      expect(policies(t.name).map((p) => p.object.metadata.name)).not.toContain("allow-webhook-egress");
    }
  });

  it("let the server call internal webhook ranges only where the tenant file marks them internal", () => {
    const setting = (name: string) =>
      one(name, "ConfigMap", `${name}-server-config`).data.NEURALLOG_ALLOW_INTERNAL_WEBHOOKS;
    expect(setting("hooli")).toBe("10.20.0.0/16");
    const env = one("hooli", "Deployment", "hooli-server").spec.template.spec.containers[0].env;
    expect(env.find((e: Json) => e.name === "NEURALLOG_ALLOW_INTERNAL_WEBHOOKS").valueFrom).toEqual({
      configMapKeyRef: { name: "hooli-server-config", key: "NEURALLOG_ALLOW_INTERNAL_WEBHOOKS" },
    });
    // globex lists a destination without internal: true, so its server keeps refusing internal addresses.
    expect(setting("globex")).toBeUndefined();
  });

  it("render each extra rule as its own policy", () => {
    expect(policy("hooli", "extra-to-object-store")).toEqual({
      podSelector: { matchLabels: { "app.kubernetes.io/component": "backup" } },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } }],
          ports: [
            { protocol: "TCP", port: 9000 },
            { protocol: "TCP", port: 9001 },
          ],
        },
      ],
    });
    expect(policy("globex", "extra-allow-otel-collector").policyTypes).toEqual(["Ingress"]);
  });
});

describe("Redis", () => {
  it("runs redis.conf from its ConfigMap with the tenant's memory and persistence settings", () => {
    const conf = one("globex", "ConfigMap", "globex-redis-config").data["redis.conf"] as string;
    expect(conf).toContain(`maxmemory ${6 * 2 ** 30}\n`);
    expect(conf).toContain("maxmemory-policy noeviction\n");
    expect(conf).toContain("appendonly yes\nappendfsync always\n");
    expect(conf).toContain("dir /data\n");
    const sts = one("globex", "StatefulSet");
    expect(sts.spec.serviceName).toBe("globex-redis-headless");
    expect(one("globex", "Service", "globex-redis-headless").spec.clusterIP).toBe("None");
    expect(one("globex", "Service", "globex-redis").spec.ports).toEqual([
      { name: "redis", port: 6379, targetPort: "redis" },
    ]);
  });

  it("has a password by default: a generated Secret's file, named ones as given, never env, args or the ConfigMap", () => {
    const volume = (name: string) =>
      one(name, "StatefulSet").spec.template.spec.volumes.find((v: Json) => v.name === "redis-auth").secret;
    // acme names no Secret: the controller's generated one. globex names the one its platform team provides.
    expect(volume("acme")).toEqual({
      secretName: "acme-redis-auth",
      items: [{ key: "password", path: "password" }],
      defaultMode: 0o440,
    });
    expect(tenant("acme").redis.passwordSecret).toEqual({
      name: "acme-redis-auth",
      key: "password",
      generated: true,
    });
    expect(volume("globex").secretName).toBe("globex-redis-vault");
    expect(tenant("globex").redis.passwordSecret.generated).toBe(false);
    for (const name of ["acme", "globex", "initech"]) {
      const redis = one(name, "StatefulSet").spec.template.spec.containers[0];
      expect(redis.command.slice(0, 2), name).toEqual(["sh", "-c"]);
      expect(redis.command.at(-1), name).toBe("/etc/redis-auth/password");
      expect(redis.env, name).toBeUndefined();
      expect(redis.args, name).toBeUndefined();
      expect(redis.readinessProbe.exec.command[2], name).toContain("REDISCLI_AUTH");
      const conf = one(name, "ConfigMap", `${name}-redis-config`).data["redis.conf"] as string;
      expect(conf, name).not.toContain("protected-mode no");
      expect(conf, name).not.toContain("requirepass");
    }
  });
});

describe("the server", () => {
  it("gets its settings, Redis URL and API keys file", () => {
    const acme = one("acme", "Deployment").spec.template.spec;
    const c = acme.containers[0];
    expect(env(c, "PORT")).toEqual({ name: "PORT", value: "8080" });
    expect(env(c, "REDIS_URL")).toEqual({ name: "REDIS_URL", value: "redis://acme-redis:6379" });
    expect(env(c, "NEURALLOG_API_KEYS_FILE")!.value).toBe("/etc/neurallog/keys/api-keys.json");
    expect(acme.volumes.find((v: Json) => v.name === "api-keys").secret).toMatchObject({
      secretName: "acme-api-keys",
    });
    const settings = one("acme", "ConfigMap", "acme-server-config").data;
    expect(settings).toMatchObject({
      NEURALLOG_TENANT: "acme",
      NEURALLOG_RETENTION_MAX_AGE: "14d",
      NEURALLOG_RETENTION_MAX_ENTRIES: "2000000",
    });
    expect(JSON.parse(settings["rules.json"])).toEqual(tenant("acme").server.rules);
    expect(env(c, "NEURALLOG_RULES_FILE")!.value).toBe("/etc/neurallog/config/rules.json");
    for (const name of [
      "NEURALLOG_TENANT",
      "NEURALLOG_RETENTION_MAX_AGE",
      "NEURALLOG_RETENTION_MAX_ENTRIES",
    ]) {
      expect(env(c, name)!.valueFrom.configMapKeyRef).toEqual({ name: "acme-server-config", key: name });
    }
  });

  it("reaches Redis by a REDIS_URL without the password and the password file; no Secret in any env", () => {
    for (const kind of ["Deployment", "CronJob"]) {
      const { template } = podTemplates([one("globex", kind)])[0]!;
      const container = template.spec.containers[0];
      expect(env(container, "REDIS_URL")!.value, kind).toBe("redis://globex-redis:6379");
      expect(env(container, "REDIS_PASSWORD_FILE")!.value, kind).toBe("/etc/redis-auth/password");
      expect(container.volumeMounts, kind).toContainEqual({
        name: "redis-auth",
        mountPath: "/etc/redis-auth",
        readOnly: true,
      });
      expect(template.spec.volumes.find((v: Json) => v.name === "redis-auth").secret.secretName, kind).toBe(
        "globex-redis-vault",
      );
    }
    for (const name of ["acme", "globex", "initech"])
      for (const { owner, template } of podTemplates(tenantFolder(name).map((f) => f.object)))
        for (const c of template.spec.containers)
          for (const e of c.env ?? [])
            expect(e.valueFrom?.secretKeyRef, `${owner} ${e.name}`).toBeUndefined();
  });

  it("believes X-Forwarded-For only from the platform's ingress proxies, and from none by default", () => {
    for (const name of ["acme", "globex", "initech"])
      expect(one(name, "ConfigMap", `${name}-server-config`).data, name).not.toHaveProperty(
        "NEURALLOG_TRUSTED_PROXIES",
      );
    const behindProxy = {
      ...platform,
      ingress: { ...platform.ingress, proxyCIDRs: ["10.244.0.0/16", "fd00::/64"] },
    };
    const config = tenantObjects(tenant("acme"), behindProxy).find(
      (o) => o.kind === "ConfigMap" && o.metadata.name === "acme-server-config",
    ) as Json;
    expect(config.data.NEURALLOG_TRUSTED_PROXIES).toBe("10.244.0.0/16,fd00::/64");
  });

  it("gets webhook signing secrets only as NEURALLOG_WEBHOOK_* from its optional Secret (rules' secretEnv)", () => {
    for (const name of ["acme", "globex", "initech"]) {
      const [container, ...others] = one(name, "Deployment").spec.template.spec.containers;
      expect(others).toEqual([]);
      expect(container.envFrom, name).toEqual([
        { prefix: "NEURALLOG_WEBHOOK_", secretRef: { name: `${name}-webhook-secrets`, optional: true } },
      ]);
    }
    // The only Secret-fed variables: the prefix keeps the Secret from setting REDIS_URL or the keys file.
    for (const { owner, template } of podTemplates(tenantFolder("acme").map((f) => f.object)))
      for (const c of template.spec.containers)
        for (const from of c.envFrom ?? []) expect(from.prefix, owner).toBe("NEURALLOG_WEBHOOK_");
  });

  it("rolls one surge pod at a time, spreads across nodes and is scraped by Prometheus", () => {
    const d = one("acme", "Deployment");
    expect(d.spec.strategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
    const pod = d.spec.template;
    expect(pod.metadata.annotations).toMatchObject({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "8080",
      "prometheus.io/path": "/metrics",
    });
    expect(pod.spec.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: "kubernetes.io/hostname",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: d.spec.selector,
      },
    ]);
    expect(pod.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
    expect(pod.spec.serviceAccountName).toBe("acme-server");
    expect(one("acme", "ServiceAccount").automountServiceAccountToken).toBe(false);
  });

  it("has a TLS Ingress with the allowed sources, or none when ingress is off", () => {
    const ingress = one("acme", "Ingress");
    expect(ingress.metadata.annotations["nginx.ingress.kubernetes.io/whitelist-source-range"]).toBe(
      "203.0.113.0/24,198.51.100.16/28",
    );
    expect(ingress.spec.ingressClassName).toBe("nginx");
    expect(ingress.spec.tls).toEqual([{ hosts: ["logs.acme.example"], secretName: "acme-logs-tls" }]);
    expect(ingress.spec.rules[0].host).toBe("logs.acme.example");
    expect(one("globex", "Ingress").metadata.annotations).not.toHaveProperty(
      "nginx.ingress.kubernetes.io/whitelist-source-range",
    );
    expect(one("globex", "Ingress").spec.rules[0].host).toBe("globex.logs.example.com");
    none("initech", "Ingress");
  });

  it("is scaled by an HPA when autoscaling is on (and then renders no replica count)", () => {
    const hpa = one("hooli", "HorizontalPodAutoscaler");
    expect(hpa.apiVersion).toBe("autoscaling/v2");
    expect(hpa.spec).toMatchObject({
      minReplicas: 2,
      maxReplicas: 3,
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "hooli-server" },
    });
    expect(one("hooli", "Deployment").spec).not.toHaveProperty("replicas");
    none("acme", "HorizontalPodAutoscaler");
    expect(one("acme", "Deployment").spec.replicas).toBe(2);
  });

  it("never blocks drains: minAvailable 1 with several replicas, maxUnavailable 1 with one", () => {
    expect(one("acme", "PodDisruptionBudget").spec).toMatchObject({ minAvailable: 1 });
    expect(one("hooli", "PodDisruptionBudget").spec).toMatchObject({ minAvailable: 1 });
    expect(one("piedpiper", "PodDisruptionBudget").spec).toMatchObject({ maxUnavailable: 1 });
    expect(one("piedpiper", "Deployment").spec.replicas).toBe(1);
  });
});

describe("backups", () => {
  it("run `neurallog backup` on schedule with Forbid, deadlines and history limits into their own volume", () => {
    const cron = one("acme", "CronJob");
    expect(cron.spec).toMatchObject({
      schedule: "30 1 * * *",
      timeZone: "Etc/UTC",
      suspend: false,
      concurrencyPolicy: "Forbid",
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
    });
    expect(cron.spec.startingDeadlineSeconds).toBeGreaterThan(0);
    expect(cron.spec.jobTemplate.spec.activeDeadlineSeconds).toBeGreaterThan(0);
    expect(cron.spec.jobTemplate.spec.backoffLimit).toBeGreaterThanOrEqual(0);
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(pod.containers[0].command).toEqual([
      "neurallog",
      "backup",
      "--dest",
      "/backups",
      "--tenant",
      "acme",
      "--keep",
      "10",
      "--max-age",
      "30d",
    ]);
    expect(pod.containers[0].image).toBe(platform.images.server);
    expect(pod.volumes.find((v: Json) => v.name === "backups").persistentVolumeClaim).toEqual({
      claimName: "acme-backups",
    });
    expect(one("acme", "PersistentVolumeClaim").spec).toEqual({
      accessModes: ["ReadWriteOnce"],
      storageClassName: "standard",
      resources: { requests: { storage: "20Gi" } },
    });
    expect(one("globex", "PersistentVolumeClaim").spec.storageClassName).toBe("backup-hdd");
  });

  it("are left out when off, and no final backup runs unless the tenant is decommissioned", () => {
    none("initech", "CronJob");
    none("initech", "PersistentVolumeClaim");
    for (const t of tenants.filter((t) => !t.decommission)) none(t.name, "Job");
  });
});

describe("placement", () => {
  const podSpec = (kind: string) => {
    const object = one("vandelay", kind);
    return (kind === "CronJob" ? object.spec.jobTemplate.spec.template : object.spec.template).spec as Json;
  };

  it("puts the tenant's node affinity beside the server's own spread over nodes", () => {
    const spec = podSpec("Deployment");
    expect(spec.affinity.nodeAffinity).toEqual({
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 80,
          preference: {
            matchExpressions: [{ key: "pool.example.com/name", operator: "In", values: ["logs"] }],
          },
        },
      ],
    });
    expect(spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
    expect(spec.nodeSelector).toBeUndefined();
    expect(spec.tolerations).toBeUndefined();
  });

  it("renders Redis's and the backup job's node selector and tolerations into their pod specs", () => {
    expect(podSpec("StatefulSet")).toMatchObject({
      nodeSelector: { "pool.example.com/name": "storage" },
      tolerations: [
        { key: "pool.example.com/dedicated", operator: "Equal", value: "storage", effect: "NoSchedule" },
      ],
    });
    expect(podSpec("StatefulSet").affinity).toBeUndefined();
    expect(podSpec("CronJob")).toMatchObject({
      nodeSelector: { "pool.example.com/name": "storage" },
      tolerations: [{ key: "pool.example.com/dedicated", operator: "Exists" }],
    });
  });

  it("leaves pods of tenants that say nothing free to run on any untainted node", () => {
    for (const { owner, template } of podTemplates(tenantFolder("acme").map((f) => f.object))) {
      expect({
        owner,
        nodeSelector: template.spec.nodeSelector,
        tolerations: template.spec.tolerations,
      }).toEqual({
        owner,
        nodeSelector: undefined,
        tolerations: undefined,
      });
      expect(Object.keys(template.spec.affinity ?? {}), owner).not.toContain("nodeAffinity");
    }
  });
});

describe("suspend and decommission", () => {
  it("suspend scales the server to zero, keeps Redis and renders no HPA", () => {
    expect(one("initech", "Deployment").spec.replicas).toBe(0);
    expect(one("initech", "StatefulSet").spec.replicas).toBe(1);
    none("initech", "HorizontalPodAutoscaler");
  });

  it("decommission scales the server to zero and runs one final backup into a kept volume", () => {
    expect(one("umbrella", "Deployment").spec.replicas).toBe(0);
    expect(one("umbrella", "StatefulSet").spec.replicas).toBe(1);
    none("umbrella", "CronJob");
    const job = one("umbrella", "Job");
    // Named by a hash of its spec: an immutable pod template that changes becomes a new Job, not a failed sync.
    expect(job.metadata.name).toMatch(/^umbrella-final-[0-9a-f]{8}$/);
    expect(job.spec.template.spec.containers[0].command.slice(0, 2)).toEqual(["neurallog", "backup"]);
    expect(job.spec.template.spec.restartPolicy).toBe("Never");
    expect(one("umbrella", "PersistentVolumeClaim").metadata.name).toBe("umbrella-backups");
  });
});

describe("the tenant ConfigMap (controller's desired state)", () => {
  it("carries the resolved tenant (not the file's spec: the Tenant object has it) and exactly the rendered quota, limit range and policies", () => {
    for (const { fileSpec: _fileSpec, ...t } of tenants) {
      const state = JSON.parse(
        one(t.name, "ConfigMap", "neurallog-tenant").data[DESIRED_STATE_KEY],
      ) as TenantDesiredState;
      expect(state.kind).toBe("TenantDesiredState");
      expect(state.tenant).toEqual(JSON.parse(JSON.stringify(t)));
      expect(state.resourceQuota.spec).toEqual(one(t.name, "ResourceQuota").spec);
      expect(state.limitRange.spec).toEqual(one(t.name, "LimitRange").spec);
      const rendered = tenantFolder(t.name).filter((f) => f.object.kind === "NetworkPolicy");
      expect(Object.fromEntries(state.networkPolicies.map((p) => [p.name, p.spec]))).toEqual(
        Object.fromEntries(rendered.map((f) => [f.object.metadata.name, f.object.spec])),
      );
    }
  });
});

describe("Argo CD", () => {
  const projects = () => folder("argocd").filter((f) => f.object.kind === "AppProject");
  const appSet = () => folder("argocd").find((f) => f.object.kind === "ApplicationSet")!.object;

  it("fences each tenant in its own AppProject: its namespace, its Namespace, only the kinds it renders", () => {
    expect(
      projects()
        .map((p) => p.object.metadata.name)
        .sort(),
    ).toEqual(tenants.map((t) => `nl-${t.name}`).sort());
    const allowed = new Set(TENANT_NAMESPACED_KINDS.map((k) => `${k.group}/${k.kind}`));
    for (const t of tenants) {
      const spec = projects().find((p) => p.object.metadata.name === `nl-${t.name}`)!.object.spec;
      expect(spec.destinations).toEqual([{ server: IN_CLUSTER, namespace: t.namespace }]);
      expect(spec.clusterResourceWhitelist).toEqual([{ group: "", kind: "Namespace", name: t.namespace }]);
      expect(spec.sourceRepos).toEqual([platform.deploymentRepo.url]);
      for (const { file, object } of tenantFolder(t.name).filter((f) => f.object.kind !== "Namespace")) {
        const group = object.apiVersion.includes("/") ? object.apiVersion.split("/")[0] : "";
        expect(allowed.has(`${group}/${object.kind}`), file).toBe(true);
      }
    }
  });

  it("makes one Application per tenant folder, in the tenant's project and namespace, keeping resources", () => {
    const spec = appSet().spec;
    expect(spec.syncPolicy).toEqual({ preserveResourcesOnDeletion: true });
    expect(spec.goTemplate).toBe(true);
    expect(spec.template.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    expect(spec.template.spec.syncPolicy.syncOptions).toContain("ServerSideApply=true");
    const [generator] = spec.generators;
    expect(generator.git).toMatchObject({ repoURL: platform.deploymentRepo.url, revision: "main" });
    const literal = (part: string) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
    const glob = new RegExp(
      `^${(generator.git.files[0].path as string).split("*").map(literal).join("[^/]*")}$`,
    );
    for (const t of tenants) {
      const matched = tenantFolder(t.name).filter((f) => glob.test(f.file));
      expect(
        matched.map((f) => f.object.kind),
        t.name,
      ).toEqual(["Namespace"]);
      // What the ApplicationSet controller substitutes for this folder (goTemplate over the file's content).
      const params = { ...matched[0]!.object, path: { path: `tenants/${t.name}`, basename: t.name } };
      const fill = (text: string): string =>
        text.replace(/\{\{ \.([\w.]+) \}\}/g, (_, p: string) =>
          String(p.split(".").reduce((o: Json, k: string) => o[k] as Json, params)),
        );
      expect(fill(spec.template.spec.project)).toBe(`nl-${t.name}`);
      expect(fill(spec.template.spec.destination.namespace)).toBe(t.namespace);
      expect(fill(spec.template.spec.source.path)).toBe(`tenants/${t.name}`);
      expect(spec.template.spec.destination.server).toBe(IN_CLUSTER);
    }
  });
});

describe("the platform folder", () => {
  const platformObject = (kind: string) => folder("platform").find((f) => f.object.kind === kind)!.object;

  it("runs the controller with replicas from the platform file, probes on its metrics port", () => {
    const d = platformObject("Deployment");
    expect(d.metadata.namespace).toBe(platform.controller.namespace);
    expect(d.spec.replicas).toBe(platform.controller.replicas);
    const c = d.spec.template.spec.containers[0];
    expect(c.command).toEqual(["neurallog", "controller"]);
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(env(c, "NEURALLOG_CONTROLLER_MODE")!.value).toBe(platform.controller.mode);
    expect(platformObject("Namespace").metadata.labels["pod-security.kubernetes.io/enforce"]).toBe(
      "restricted",
    );
    expect(platformObject("ServiceAccount").metadata.namespace).toBe(platform.controller.namespace);
  });

  it("grants least privilege cluster-wide: read only (no secrets, no pods), Events the only write", () => {
    const rules = folder("platform").find(
      (f) => f.object.kind === "ClusterRole" && f.object.metadata.name === "neurallog-controller",
    )!.object.rules as Json[];
    for (const rule of rules) {
      for (const field of ["apiGroups", "resources", "verbs"]) expect(rule[field]).not.toContain("*");
      expect(rule.resources).not.toContain("secrets");
      expect(rule.resources).not.toContain("pods");
      if (!rule.resources.includes("events"))
        expect(rule.verbs, rule.resources.join()).toEqual(["get", "list", "watch"]);
    }
    expect(rules.find((r) => r.resources.includes("events"))!.verbs).toEqual([
      "get",
      "list",
      "watch",
      "create",
      "patch",
    ]);
    expect(rules.find((r) => r.resources.includes("configmaps"))!.resourceNames).toEqual([
      "neurallog-tenant",
    ]);
    const role = platformObject("Role");
    expect(role.metadata.namespace).toBe(platform.controller.namespace);
    expect(role.rules).toEqual([
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
    ]);
    expect(platformObject("ClusterRoleBinding").subjects).toEqual([
      { kind: "ServiceAccount", name: "neurallog-controller", namespace: platform.controller.namespace },
    ]);
    // The tenant role is bound in tenant namespaces only: no ClusterRoleBinding grants it anywhere.
    const bindings = folder("platform").filter((f) => f.object.kind === "ClusterRoleBinding");
    expect(bindings.map((b) => b.object.roleRef.name)).toEqual(["neurallog-controller"]);
  });

  it("writes to tenant namespaces only through their RoleBinding: Secrets create-only, Tenant status, self-heal writes by mode", () => {
    const tenantRole = (mode: "report-only" | "self-heal") => {
      const chart = new Chart(new App(), "platform");
      new Controller(chart, "controller", { ...platform, controller: { ...platform.controller, mode } });
      return (chart.toJson() as Json[]).find(
        (o) => o.kind === "ClusterRole" && o.metadata.name === "neurallog-controller-tenant",
      )!;
    };
    expect(platform.controller.mode).toBe("report-only");
    const status = { apiGroups: ["neurallog.io"], resources: ["tenants/status"], verbs: ["patch"] };
    expect(tenantRole("report-only").rules).toEqual([
      { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
      status,
    ]);
    expect(tenantRole("self-heal").rules).toEqual([
      { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
      status,
      { apiGroups: [""], resources: ["resourcequotas", "limitranges"], verbs: ["create", "patch"] },
      { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["create", "patch"] },
    ]);
    for (const t of tenants) {
      const binding = one(t.name, "RoleBinding");
      expect(binding.metadata.namespace, t.name).toBe(t.namespace);
      expect(binding.roleRef).toEqual({
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: "neurallog-controller-tenant",
      });
      expect(binding.subjects).toEqual([
        { kind: "ServiceAccount", name: "neurallog-controller", namespace: platform.controller.namespace },
      ]);
      // The controller judges it against the tenant ConfigMap like the quota and the policies.
      const state = JSON.parse(one(t.name, "ConfigMap", "neurallog-tenant").data[DESIRED_STATE_KEY]);
      expect(state.roleBindings).toEqual([
        { name: binding.metadata.name, roleRef: binding.roleRef, subjects: binding.subjects },
      ]);
    }
  });
});
