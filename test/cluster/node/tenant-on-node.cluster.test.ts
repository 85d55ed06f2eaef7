/**
 * A rendered tenant running for real on the real node, with the image `npm run image` built: the server becomes
 * Available through its own startup, readiness and liveness probes; logs sent through its Service from another
 * pod are stored and read back; Redis keeps acknowledged logs across the deletion of its pod (AOF on its local
 * volume); and the backup CronJob, run as a Job the way `kubectl create job --from=cronjob/…` does, writes a
 * snapshot and manifest to the backup volume whose checksum matches; the restore runbook
 * (docs/runbooks/backup-restore.md), executed step by step, brings that backup back.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  type V1CronJob,
  type V1Job,
  type V1JobSpec,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { uniqueName, clusterKubeConfig } from "../cluster-access.ts";
import { LOCAL_IMAGES } from "./node-images.ts";
import { REAL_NODE_NAME } from "./real-node.ts";
import {
  applyRendered,
  clientPodSpec,
  localPlatform,
  namespaceOf,
  renderTenantOnNode,
  runPod,
  runTenant,
  localVolumePath,
  type RunningTenant,
  waitUntilRunning,
} from "./rendered-tenant.ts";

const kc = clusterKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const tenant = uniqueName("real");
const objects = renderTenantOnNode(tenant, localPlatform());
const namespace = namespaceOf(objects);
const server = `http://${tenant}-server.${namespace}.svc.cluster.local:8080`;
const marker = `real-node-${tenant}`;
let running: RunningTenant;

/**
 * A client pod of our image in the tenant's namespace (the rendered policies let the namespace's own pods reach
 * its server) that calls the server's REST API through its Service and prints the response body.
 */
async function callServer(method: "GET" | "POST", path: string, body?: unknown): Promise<unknown> {
  const script = `
fetch(process.env.URL, {
  method: process.env.METHOD,
  headers: { authorization: "Bearer " + process.env.KEY, "content-type": "application/json" },
  body: process.env.BODY || undefined,
}).then(async (r) => { console.log(JSON.stringify({ status: r.status, body: await r.json() })); })
  .catch((e) => { console.log(JSON.stringify({ error: String(e.cause ?? e) })); process.exit(1); });`;
  const spec = clientPodSpec(["node", "-e", script]);
  spec.containers[0]!.env = [
    { name: "URL", value: `${server}${path}` },
    { name: "METHOD", value: method },
    { name: "KEY", value: running.apiKey },
    { name: "BODY", value: body === undefined ? "" : JSON.stringify(body) },
  ];
  const { phase, log } = await runPod(kc, namespace, { metadata: { name: uniqueName("client") }, spec });
  const result = JSON.parse(log.trim().split("\n").at(-1)!) as {
    status?: number;
    body?: unknown;
    error?: string;
  };
  expect({ phase, status: result.status, error: result.error }, log).toEqual({
    phase: "Succeeded",
    status: 200,
    error: undefined,
  });
  return result.body;
}

async function storedMessages(): Promise<string[]> {
  const body = (await callServer("GET", `/api/v1/logs?q=${marker}&limit=1000`)) as {
    entries: { message: string }[];
  };
  return body.entries.map((e) => e.message).sort();
}

const serverPods = async (): Promise<V1Pod[]> =>
  (await core.listNamespacedPod({ namespace, labelSelector: "app.kubernetes.io/component=server" })).items;

const batch = kc.makeApiClient(BatchV1Api);

/**
 * `kubectl create job --from=cronjob/<tenant>-backup <name>`, with `edit` applied to the Job spec as the runbook's
 * `jq` does; waits for the Job to end and returns it with its pod's log.
 */
async function runFromCronJob(
  purpose: string,
  edit: (spec: V1JobSpec) => V1JobSpec,
): Promise<{ job: V1Job; log: string }> {
  const cronJob: V1CronJob = await batch.readNamespacedCronJob({ name: `${tenant}-backup`, namespace });
  const name = uniqueName(`${tenant}-${purpose}`).slice(0, 52);
  await batch.createNamespacedJob({
    namespace,
    body: {
      metadata: {
        name,
        annotations: { "cronjob.kubernetes.io/instantiate": "manual" },
        labels: cronJob.spec!.jobTemplate.metadata?.labels,
        ownerReferences: [
          {
            apiVersion: "batch/v1",
            kind: "CronJob",
            name: cronJob.metadata!.name!,
            uid: cronJob.metadata!.uid!,
            controller: true,
          },
        ],
      },
      spec: edit(structuredClone(cronJob.spec!.jobTemplate.spec!)),
    },
  });
  const job = await vi.waitFor(
    async () => {
      const live = await batch.readNamespacedJob({ name, namespace });
      const done = live.status?.conditions?.find(
        (c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True",
      );
      if (!done) throw new Error(`Job ${name} not done: ${JSON.stringify(live.status)}`);
      return live;
    },
    { timeout: 180_000, interval: 1_000 },
  );
  const [pod] = (await core.listNamespacedPod({ namespace, labelSelector: `job-name=${name}` })).items;
  const log = pod ? await core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace }) : "";
  return { job, log };
}

const withCommand = (command: string[]) => (spec: V1JobSpec) => {
  spec.template.spec!.containers[0]!.command = command;
  spec.backoffLimit = 0;
  return spec;
};

beforeAll(async () => {
  running = await runTenant(kc, objects);
}, 300_000);

afterAll(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

describe("a rendered tenant on the real node", () => {
  it("runs the server from our image, Ready through its own startup, readiness and liveness probes", async () => {
    const pods = await serverPods();
    expect(pods.length).toBeGreaterThan(0);
    for (const pod of pods) {
      const container = pod.spec!.containers[0]!;
      expect(pod.spec?.nodeName).toBe(REAL_NODE_NAME);
      expect(container.image).toBe(LOCAL_IMAGES.neurallog.ref);
      expect(
        [container.startupProbe, container.readinessProbe, container.livenessProbe].map(Boolean),
      ).toEqual([true, true, true]);
      const status = pod.status!.containerStatuses![0]!;
      expect({
        ready: status.ready,
        restarts: status.restartCount,
        running: !!status.state?.running,
      }).toEqual({
        ready: true,
        restarts: 0,
        running: true,
      });
    }
    const deployment = await kc
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: `${tenant}-server`, namespace });
    expect(deployment.status?.conditions?.find((c) => c.type === "Available")?.status).toBe("True");
  });

  it("stores logs sent through its Service from another pod and reads them back", async () => {
    const sent = Array.from({ length: 25 }, (_, i) => `${marker} entry ${String(i).padStart(2, "0")}`);
    const ingested = (await callServer(
      "POST",
      "/api/v1/logs",
      sent.map((message) => ({ message, level: "info", source: "real-node-test" })),
    )) as { accepted: number; rejected: number };
    expect(ingested).toMatchObject({ accepted: sent.length, rejected: 0 });
    expect(await storedMessages()).toEqual(sent.sort());
  });

  it("keeps acknowledged logs across the deletion of the Redis pod (AOF on its volume)", async () => {
    const before = await storedMessages();
    expect(before.length).toBeGreaterThan(0);
    const name = `${tenant}-redis-0`;
    const old = await core.readNamespacedPod({ name, namespace });
    await core.deleteNamespacedPod({ name, namespace });
    await vi.waitFor(
      async () => {
        const pod = await core.readNamespacedPod({ name, namespace });
        const ready = pod.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
        if (pod.metadata?.uid === old.metadata?.uid || !ready)
          throw new Error(`${name} not replaced and Ready yet`);
      },
      { timeout: 120_000, interval: 500 },
    );
    // The server reconnects on its own. Until it has, it answers 503 with Retry-After (its readiness may still
    // say Ready from before the kill: probes are periodic), so ask again as a client would.
    const after = await vi.waitFor(storedMessages, { timeout: 90_000, interval: 1_000 });
    expect(after).toEqual(before);
  }, 240_000);

  it("runs the backup CronJob as a Job: a snapshot and its manifest on the backup volume, checksums matching", async () => {
    const { job } = await runFromCronJob("manual", (spec) => spec);
    expect(job.status?.succeeded).toBe(1);

    const claim = objects.find((o) => o.kind === "PersistentVolumeClaim")!.metadata!.name!;
    const volume = localVolumePath(namespace, claim);
    const files = readdirSync(volume, { recursive: true }).map(String);
    const snapshots = files.filter((f) => f.endsWith(".rdb"));
    expect(snapshots, files.join(", ")).toHaveLength(1);
    const snapshot = readFileSync(join(volume, snapshots[0]!));
    expect(snapshot.subarray(0, 5).toString("latin1")).toBe("REDIS");
    const manifest = JSON.parse(
      readFileSync(join(volume, snapshots[0]!.replace(/\.rdb$/, ".json")), "utf8"),
    ) as {
      sha256: string;
    };
    expect(manifest.sha256).toBe(createHash("sha256").update(snapshot).digest("hex"));
  }, 240_000);

  it("restores that backup by the runbook (pick, pause, restore, verify, resume): logs written after it are gone, the rest is back", async () => {
    const before = await storedMessages();
    const later = [`${marker} written after the backup`];
    await callServer(
      "POST",
      "/api/v1/logs",
      later.map((message) => ({ message, level: "info" })),
    );
    expect(await storedMessages()).toEqual([...before, ...later].sort());

    // 1. Pick the backup: a Job of the CronJob's template listing the volume (the image has no shell).
    const listing = await runFromCronJob(
      "list",
      withCommand(["neurallog", "backups", "--dest", "/backups", "--tenant", tenant]),
    );
    expect(listing.job.status?.succeeded, listing.log).toBe(1);
    const [newest] = listing.log.trim().split("\n");
    const [snapshot, , , keys] = newest!.split("  ");
    expect(newest).toMatch(/ {2}good$/);
    const manifestKeys = Number(keys!.split(" ")[0]);
    expect(manifestKeys).toBeGreaterThan(0);

    // 2. Pause the writers: the tenant file with `suspend: true`, merged and synced.
    await applyRendered(kc, renderTenantOnNode(tenant, localPlatform(), { suspend: true }));
    await vi.waitFor(
      async () => {
        const pods = await serverPods();
        const cron = await batch.readNamespacedCronJob({ name: `${tenant}-backup`, namespace });
        if (pods.length > 0 || !cron.spec?.suspend)
          throw new Error(`${pods.length} server pods, CronJob suspend ${cron.spec?.suspend}`);
      },
      { timeout: 120_000, interval: 500 },
    );

    // 3. Restore, with backoffLimit 0, from the snapshot picked in step 1.
    const restore = await runFromCronJob(
      "restore",
      withCommand(["neurallog", "restore", "--from", `/backups/${snapshot}`]),
    );
    expect(restore.job.status?.succeeded, restore.log).toBe(1);

    // 4. Verify: the Job's last line names the file, and the restored key count is the manifest's.
    expect(restore.log.trim().split("\n").at(-1)).toMatch(
      new RegExp(
        `^restored /backups/${snapshot!.replace(/\./g, "\\.")} into redis://${tenant}-redis:6379: db0=${manifestKeys}, `,
      ),
    );

    // 5. Resume: the tenant file without `suspend`; the server comes back and serves what the backup held.
    await applyRendered(kc, objects);
    await waitUntilRunning(kc, namespace, 120_000);
    expect(await storedMessages()).toEqual(before);
  }, 480_000);
});
