import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureClusterBinaries } from "../binaries.ts";
import { ARGOCD_CRD_DIR, argoCdCrdFiles } from "../cluster-bootstrap.ts";

const crdNames = (dir: string): string[] =>
  readdirSync(dir)
    .filter((file) => file.endsWith("-crd.yaml"))
    .sort();

describe("vendored Argo CD CRDs", () => {
  it("are byte-for-byte the CRDs of the Argo CD module the suite builds and runs", () => {
    const moduleCrds = join(ensureClusterBinaries(["argocd"]).setDir("argocd"), "crds");
    expect(crdNames(ARGOCD_CRD_DIR)).toEqual(crdNames(moduleCrds));
    for (const file of crdNames(moduleCrds)) {
      expect(
        readFileSync(join(ARGOCD_CRD_DIR, file)).equals(readFileSync(join(moduleCrds, file))),
        file,
      ).toBe(true);
    }
  });

  it("are listed in SOURCE.md with their sha256", () => {
    const source = readFileSync(join(ARGOCD_CRD_DIR, "SOURCE.md"), "utf8");
    for (const path of argoCdCrdFiles()) {
      const sum = createHash("sha256").update(readFileSync(path)).digest("hex");
      expect(source).toContain(`| ${path.split("/").at(-1)} | ${sum} |`);
    }
  });
});
