/**
 * Builds a tenant directory in a temp folder, loads it with the real loader, removes it, and gives back the
 * diagnostics as `FILE:LINE:COL: message` lines with the temp prefix stripped (`acme.yaml:7:5: ...`).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatDiagnostic, loadTenantTree } from "../../charts-src/model/load.ts";
import type { LoadResult } from "../../charts-src/model/loaded-tree.ts";

/** A small, stable platform: the tests' numbers depend on it, not on the examples. */
export const TEST_PLATFORM = `apiVersion: neurallog.io/v1alpha1
kind: Platform
metadata:
  name: test
spec:
  images:
    server: ghcr.io/neurallog/server:0.1.0
    redis: docker.io/library/redis:7.4.2-alpine
  baseDomain: logs.test.example
  ingress:
    className: nginx
    controllerNamespace: ingress-nginx
  storageClassName: standard
  monitoring:
    namespace: monitoring
  deploymentRepo:
    url: https://git.example.com/deploy.git
  defaultPlan: standard
  plans:
    small: {}
    standard:
      quota:
        hard:
          requests.cpu: "4"
          requests.memory: 4Gi
          limits.cpu: "8"
          limits.memory: 8Gi
          requests.storage: 100Gi
`;

/**
 * A tenant file whose `spec` body starts on line 7 (body lines are indented under `spec:` by this helper).
 * Lines 1-6: apiVersion, kind, metadata, name, spec, owners.
 */
export function tenantYaml(name: string, body = ""): string {
  const indented = body
    .split("\n")
    .filter((line, i, all) => !(i === all.length - 1 && line.trim() === ""))
    .map((line) => (line.trim() === "" ? "" : `  ${line}`))
    .join("\n");
  return `apiVersion: neurallog.io/v1alpha1
kind: Tenant
metadata:
  name: ${name}
spec:
  owners: [{ kind: Group, name: team }]
${indented}
`;
}

export interface LoadedFixture {
  readonly result: LoadResult;
  /** Every diagnostic as `FILE:LINE:COL: message`, FILE relative to the fixture directory. */
  readonly lines: string[];
}

/** Loads `files` (name → content) plus `_platform.yaml` (TEST_PLATFORM unless given; `null` for none). */
export async function loadFixture(
  files: Record<string, string>,
  platform: string | null = TEST_PLATFORM,
): Promise<LoadedFixture> {
  const dir = await mkdtemp(join(tmpdir(), "nl-validate-"));
  try {
    if (platform !== null) await writeFile(join(dir, "_platform.yaml"), platform);
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    const result = await loadTenantTree(dir);
    const lines = result.diagnostics.map((d) =>
      formatDiagnostic({ ...d, file: d.file.slice(dir.length + 1) }),
    );
    return { result, lines };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Loads one tenant `acme` with the given spec body and returns its diagnostic lines. */
export async function tenantLines(body: string, name = "acme"): Promise<string[]> {
  return (await loadFixture({ [`${name}.yaml`]: tenantYaml(name, body) })).lines;
}
