/** What the loader hands to synth and the CLI: sorted tenants, resolved only when clean, skipped entries named. */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { loadTenantTree, validTree } from "../../charts-src/model/load.ts";
import { workloadFootprint } from "../../contracts/workload-footprint.ts";
import { loadFixture, tenantYaml } from "./fixture-tree.ts";

describe("loadTenantTree", () => {
  test("the examples in tenants/ pass, every tenant resolved", async () => {
    const result = await loadTenantTree("tenants");
    expect(result.diagnostics).toEqual([]);
    expect(result.tenants.map((t) => [t.file, t.resolved?.namespace])).toEqual([
      ["tenants/acme.yaml", "nl-acme"],
      ["tenants/globex.yaml", "nl-globex"],
      ["tenants/initech.yaml", "initech-logs"],
    ]);
    const tree = validTree(result);
    expect(tree?.tenants.map((t) => t.name)).toEqual(["acme", "globex", "initech"]);
    expect(tree?.platform.planNames).toEqual(["large", "small", "standard"]);
  });

  test("tenants come sorted by name; one tenant's error leaves the others resolved, but validTree refuses", async () => {
    const { result } = await loadFixture({
      "zeta.yaml": tenantYaml("zeta"),
      "alpha.yaml": tenantYaml("alpha"),
      "mid.yaml": tenantYaml("mid", "namespace: kube-public\n"),
    });
    expect(result.tenants.map((t) => [t.value.metadata.name, t.resolved !== undefined])).toEqual([
      ["alpha", true],
      ["mid", false],
      ["zeta", true],
    ]);
    expect(validTree(result)).toBeUndefined();
  });

  test("dotfiles, non-YAML files and folders are skipped and listed; .yml counts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nl-validate-"));
    try {
      const { TEST_PLATFORM } = await import("./fixture-tree.ts");
      await writeFile(join(dir, "_platform.yaml"), TEST_PLATFORM);
      await writeFile(join(dir, "acme.yml"), tenantYaml("acme"));
      await writeFile(join(dir, ".draft.yaml"), "not: [valid");
      await writeFile(join(dir, "notes.txt"), "hello");
      await writeFile(join(dir, "README.md"), "# tenants");
      await mkdir(join(dir, "archive"));
      const result = await loadTenantTree(dir);
      expect(result.diagnostics).toEqual([]);
      expect(result.skipped).toEqual([".draft.yaml", "README.md", "archive", "notes.txt"]);
      expect(result.tenants.map((t) => t.value.metadata.name)).toEqual(["acme"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a directory that does not exist is one diagnostic, not an exception", async () => {
    const result = await loadTenantTree("/nonexistent/nl-tenants");
    expect(result.diagnostics).toEqual([
      {
        file: "/nonexistent/nl-tenants",
        line: 1,
        column: 1,
        message: "cannot read the tenant directory (ENOENT)",
        severity: "error",
      },
    ]);
  });
});

describe("workloadFootprint", () => {
  test("server at HPA max plus one surge pod, Redis, the backup job; storage of both volumes", async () => {
    const { result } = await loadFixture({
      "acme.yaml": tenantYaml(
        "acme",
        "server:\n  resources: { requests: { cpu: 500m } }\n  autoscaling: { enabled: true, maxReplicas: 10 }\nquota: { hard: { requests.cpu: '10', limits.cpu: '20', limits.memory: 20Gi } }\n",
      ),
    });
    const tenant = result.tenants[0]!.resolved!;
    const footprint = workloadFootprint(tenant);
    expect(footprint.serverPods).toBe(11);
    expect(footprint.lines["requests.cpu"].total).toBeCloseTo(11 * 0.5 + 0.1 + 0.1);
    expect(footprint.lines.pods.total).toBe(13);
    expect(footprint.lines.persistentvolumeclaims.total).toBe(2);
    expect(footprint.lines["requests.storage"].total).toBe(15 * 2 ** 30);
  });

  test("without autoscaling: replicas + surge; without backups: no job pod, no backup volume", async () => {
    const { result } = await loadFixture({
      "acme.yaml": tenantYaml("acme", "server: { replicas: 3 }\nbackup: { enabled: false }\n"),
    });
    const footprint = workloadFootprint(result.tenants[0]!.resolved!);
    expect(footprint.serverPods).toBe(4);
    expect(footprint.lines.pods.total).toBe(5);
    expect(footprint.lines.persistentvolumeclaims.total).toBe(1);
    expect(footprint.lines["requests.storage"].total).toBe(5 * 2 ** 30);
  });

  test("a decommissioning tenant keeps its final backup job and volume even with backups off", async () => {
    const { result } = await loadFixture({
      "acme.yaml": tenantYaml("acme", "decommission: true\nbackup: { enabled: false }\n"),
    });
    expect(workloadFootprint(result.tenants[0]!.resolved!).lines.persistentvolumeclaims.total).toBe(2);
  });
});
