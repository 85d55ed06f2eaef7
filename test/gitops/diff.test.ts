import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadTenantTree, validTree } from "../../charts-src/model/load.ts";
import { synthesize } from "../../charts-src/render/synthesize.ts";
import { run } from "../../cli/commands/diff.ts";
import { renderCached, writeRenderedTree } from "../../gitops/cached-render.ts";
import { RenderCache } from "../../gitops/render-cache.ts";
import { PLATFORM_FILE } from "../../gitops/tenant-source.ts";
import { PLATFORM_FILE as LOADER_PLATFORM_FILE } from "../../charts-src/model/load.ts";
import { readTreeSource } from "../../gitops/tenant-source.ts";
import { GIT_ENV, sandbox, tenantsRepo, type Sandbox } from "./git-fixtures.ts";

Object.assign(process.env, GIT_ENV);

let box: Sandbox;
let out: string[];
let err: string[];
beforeEach(async () => {
  box = await sandbox();
  process.env.NEURALLOG_CACHE_DIR = path.join(box.root, "cache");
  out = [];
  err = [];
  vi.spyOn(console, "log").mockImplementation((line: string) => void out.push(line));
  vi.spyOn(console, "error").mockImplementation((line: string) => void err.push(line));
});
afterEach(async () => {
  vi.restoreAllMocks();
  delete process.env.NEURALLOG_CACHE_DIR;
  await box.cleanup();
});

async function edit(file: string, from: string | RegExp, to: string) {
  const text = await readFile(file, "utf8");
  const next = text.replace(from, to);
  expect(next).not.toBe(text);
  await writeFile(file, next);
}

describe("neurallog diff", () => {
  it("exits 0 and says so when nothing changed", async () => {
    const { tenants } = await tenantsRepo(box);
    expect(await run(["--tenants", tenants])).toBe(0);
    expect(out.join("\n")).toContain("diff: no changes (3 tenants compared)");
  });

  it("shows a new tenant's objects, and only those, exit 2", async () => {
    const { tenants } = await tenantsRepo(box);
    await writeFile(
      path.join(tenants, "newco.yaml"),
      "apiVersion: neurallog.io/v1alpha1\nkind: Tenant\nmetadata: { name: newco }\nspec:\n  owners: [{ kind: Group, name: newco }]\n",
    );
    expect(await run(["--tenants", tenants])).toBe(2);
    const text = out.join("\n");
    expect(text).toContain("tenant newco: added");
    expect(text).not.toMatch(/tenant (acme|globex|initech)/);
    expect(text).toContain("+ Namespace nl-newco  (tenants/newco/namespace-nl-newco.yaml)");
    expect(text).toContain("+ AppProject argocd/nl-newco  (argocd/appproject-nl-newco.yaml)");
    expect(text).toContain("diff: 1 added, 0 changed, 0 removed of 4 tenants; 0 dangerous changes");
  });

  it("shows a changed field as a YAML diff against a base ref", async () => {
    const { tenants, git } = await tenantsRepo(box);
    await edit(path.join(tenants, "globex.yaml"), "requests.storage: 300Gi", "requests.storage: 400Gi");
    await git.add(".").commit("more storage for globex");

    expect(await run(["--tenants", tenants, "--base", "HEAD~1"])).toBe(2);
    const text = out.join("\n");
    expect(text).toContain("~ ResourceQuota nl-globex/neurallog-quota");
    expect(text).toMatch(/-\s+requests\.storage: 300Gi\n\s+\+\s+requests\.storage: 400Gi/);
    expect(text).toContain("0 dangerous changes");
  });

  it("flags a storage shrink and a network policy opened to other tenants", async () => {
    const { tenants } = await tenantsRepo(box);
    await edit(path.join(tenants, "globex.yaml"), "size: 80Gi", "size: 40Gi");
    await edit(
      path.join(tenants, "acme.yaml"),
      "  network:\n",
      // The server's pods: opening Redis this way is a validate error, which diff would report instead.
      "  network:\n    extraRules:\n      - name: wide-open\n        direction: ingress\n" +
        "        podSelector: { matchLabels: { app.kubernetes.io/component: server } }\n        peers:\n" +
        "          - namespaceSelector: { matchLabels: {} }\n" +
        "          - namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: nl-globex } }\n" +
        "          - cidr: 0.0.0.0/0\n",
    );
    expect(await run(["--tenants", tenants, "--format", "markdown"])).toBe(2);
    const md = out.join("\n");
    expect(md).toContain("> [!CAUTION]");
    expect(md).toContain("4 dangerous changes");
    expect(md).toMatch(
      /storage-shrink`: StatefulSet nl-globex\/globex-redis volume claim data shrinks 80Gi → 40Gi/,
    );
    expect(md).toContain("newly allows ingress from namespaceSelector {}");
    expect(md).toContain("newly allows ingress from the namespace of another tenant (nl-globex)");
    expect(md).toContain("newly allows ingress from 0.0.0.0/0");
    expect(md).toContain("```diff");
  });

  it("flags a tenant moving to another namespace (issue 12 item 6)", async () => {
    const { tenants } = await tenantsRepo(box);
    await edit(path.join(tenants, "globex.yaml"), /^spec:\n/m, "spec:\n  namespace: nl-globex-2\n");
    expect(await run(["--tenants", tenants])).toBe(2);
    const text = out.join("\n");
    expect(text).toContain(
      "! DANGER namespace-change: tenant namespace changes nl-globex → nl-globex-2: everything is rendered into the new namespace",
    );
  });

  it("flags removing a tenant: its namespace and volumes leave git", async () => {
    const { tenants } = await tenantsRepo(box);
    await rm(path.join(tenants, "acme.yaml"));
    expect(await run(["--tenants", tenants])).toBe(2);
    const text = out.join("\n");
    expect(text).toContain("tenant acme: removed");
    expect(text).toContain("! DANGER namespace-deletion: Namespace nl-acme leaves git");
    expect(text).toContain("! DANGER volume-deletion: PersistentVolumeClaim nl-acme/acme-backups leaves git");
    expect(text).toContain(
      "! DANGER volume-deletion: StatefulSet nl-acme/acme-redis leaves git with its volume claims (data)",
    );
  });

  it("exits 1 with FILE:LINE:COL errors for an invalid tenant, and for an unknown ref", async () => {
    const { tenants } = await tenantsRepo(box);
    await edit(path.join(tenants, "acme.yaml"), "plan: standard", "plan: platinum");
    expect(await run(["--tenants", tenants])).toBe(1);
    expect(err[0]).toMatch(new RegExp(`^${path.join(tenants, "acme.yaml")}:\\d+:\\d+: .*platinum`));
    expect(await run(["--tenants", tenants, "--base", "nope"])).toBe(1);
    expect(err.join("\n")).toContain('unknown git ref "nope"');
    expect(out).toEqual([]);
  });

  it("renders from the cache on the second run: only changed tenants are rendered at all", async () => {
    const { tenants } = await tenantsRepo(box);
    await edit(path.join(tenants, "acme.yaml"), "maxEntries: 2000000", "maxEntries: 3000000");
    expect(await run(["--tenants", tenants])).toBe(2);
    const cacheDir = process.env.NEURALLOG_CACHE_DIR!;
    const entries = async () =>
      (await readdir(cacheDir, { recursive: true })).filter((f) => f.endsWith(".json"));
    // acme at base and at head: two entries, nothing for the unchanged tenants.
    expect(await entries()).toHaveLength(2);
    const first = out.join("\n");
    out.length = 0;
    expect(await run(["--tenants", tenants])).toBe(2);
    expect(out.join("\n")).toBe(first);
    expect(await entries()).toHaveLength(2);
  });
});

describe("the render cache", () => {
  it("assembles exactly what synthesize() writes", async () => {
    const { tenants } = await tenantsRepo(box);
    const cache = new RenderCache(path.join(box.root, "cache"));
    const source = await readTreeSource(tenants);
    const cold = await renderCached(source, [...source.tenants.keys()], { cache, platform: true });
    const warm = await renderCached(source, [...source.tenants.keys()], { cache, platform: true });
    expect(cache.hits).toBe(4);
    expect(warm).toEqual(cold);

    const fromCache = await mkdtemp(path.join(box.root, "cached-"));
    await writeRenderedTree(warm, fromCache);
    const fromSynth = await mkdtemp(path.join(box.root, "synth-"));
    await synthesize(validTree(await loadTenantTree(tenants))!, fromSynth);
    const listing = async (dir: string) => (await readdir(dir, { recursive: true })).sort();
    expect(await listing(fromCache)).toEqual(await listing(fromSynth));
    for (const file of await listing(fromSynth)) {
      if (!file.endsWith(".yaml")) continue;
      expect(await readFile(path.join(fromCache, file), "utf8")).toBe(
        await readFile(path.join(fromSynth, file), "utf8"),
      );
    }
  });

  it("uses the loader's platform file name", () => {
    expect(PLATFORM_FILE).toBe(LOADER_PLATFORM_FILE);
  });
});
