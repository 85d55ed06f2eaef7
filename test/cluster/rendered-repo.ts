/**
 * The deployment repo as `neurallog synth` renders it, for the cluster tests: running the CLI exactly as a user
 * would (`neurallog synth --tenants DIR --out DIR`), reading `OUT/tenants/<name>/`, `OUT/argocd/` and
 * `OUT/platform/` back as objects with their source files, and writing generated tenant sets.
 */
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { KubernetesObject } from "@kubernetes/client-node";
import { stringify } from "yaml";
import type { SourcedObject } from "./argocd-lint.ts";
import { readManifestFile } from "./manifest-files.ts";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const EXAMPLE_TENANTS_DIR = join(REPO_ROOT, "tenants");
const PLATFORM_FILE = "_platform.yaml";

/** Tenant names of a tenants folder: its `*.yaml` files, without the platform file. */
export function tenantNames(tenantsDir: string): string[] {
  return readdirSync(tenantsDir)
    .filter((file) => file.endsWith(".yaml") && !file.startsWith("_"))
    .map((file) => file.slice(0, -".yaml".length))
    .sort();
}

/** Runs the real CLI; rejects with its output when it exits non-zero. */
export async function runSynth(tenantsDir: string, outDir: string): Promise<void> {
  try {
    await promisify(execFile)(
      process.execPath,
      [join(REPO_ROOT, "bin/neurallog.ts"), "synth", "--tenants", tenantsDir, "--out", outDir],
      { cwd: REPO_ROOT, timeout: 120_000 },
    );
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`neurallog synth --tenants ${tenantsDir} failed:\n${stderr ?? ""}${stdout ?? ""}`, {
      cause: error,
    });
  }
}

export interface RenderedRepo {
  readonly tenants: Map<string, SourcedObject[]>;
  readonly argocd: SourcedObject[];
  readonly platform: SourcedObject[];
}

function readFolder(outDir: string, folder: string): SourcedObject[] {
  const dir = join(outDir, folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => /\.ya?ml$/.test(file))
    .sort()
    .flatMap((file) =>
      readManifestFile(join(dir, file)).map((object) => ({
        source: relative(outDir, join(dir, file)),
        object,
      })),
    );
}

export function readRenderedRepo(outDir: string): RenderedRepo {
  const tenantsDir = join(outDir, "tenants");
  const names = existsSync(tenantsDir)
    ? readdirSync(tenantsDir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort()
    : [];
  return {
    tenants: new Map(names.map((name) => [name, readFolder(outDir, join("tenants", name))])),
    argocd: readFolder(outDir, "argocd"),
    platform: readFolder(outDir, "platform"),
  };
}

export const objectsOf = (items: readonly SourcedObject[]): KubernetesObject[] => items.map((i) => i.object);

/** Storage classes the rendered claims (PVCs and StatefulSet claim templates) ask for by name. */
export function storageClassesNamed(objects: readonly KubernetesObject[]): string[] {
  const names = new Set<string>();
  for (const object of objects) {
    const spec = (object as { spec?: Record<string, unknown> }).spec ?? {};
    const claims =
      object.kind === "PersistentVolumeClaim"
        ? [spec]
        : object.kind === "StatefulSet" && Array.isArray(spec.volumeClaimTemplates)
          ? spec.volumeClaimTemplates.map((t: { spec?: Record<string, unknown> }) => t.spec ?? {})
          : [];
    for (const claim of claims)
      if (typeof claim.storageClassName === "string") names.add(claim.storageClassName);
  }
  return [...names].sort();
}

/** What a generated tenant varies in, so a generated set covers more than one shape. */
function generatedTenant(name: string, index: number): Record<string, unknown> {
  const plans = ["small", "standard", "large"];
  const spec: Record<string, unknown> = {
    plan: plans[index % plans.length],
    owners: [{ kind: "Group", name: `${name}-team` }],
    labels: { "cost-center": `cc-${1000 + index}` },
  };
  if (index % 7 === 3) spec.suspend = true;
  if (index % 5 === 4) spec.backup = { enabled: false };
  return { apiVersion: "neurallog.io/v1alpha1", kind: "Tenant", metadata: { name }, spec };
}

/**
 * Writes `count` tenants named `${prefix}-00`, `${prefix}-01`, ... into a new tenants folder, with the
 * repo's platform file. Returns their names.
 */
export function writeGeneratedTenants(tenantsDir: string, prefix: string, count: number): string[] {
  mkdirSync(tenantsDir, { recursive: true });
  copyFileSync(join(EXAMPLE_TENANTS_DIR, PLATFORM_FILE), join(tenantsDir, PLATFORM_FILE));
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(2, "0")}`);
  names.forEach((name, i) =>
    writeFileSync(join(tenantsDir, `${name}.yaml`), stringify(generatedTenant(name, i))),
  );
  return names;
}
