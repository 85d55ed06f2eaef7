import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { monitoringCrdFiles } from "../cluster-bootstrap.ts";

const versions = readFileSync(new URL("../versions.env", import.meta.url), "utf8");
const version = /^PROMETHEUS_OPERATOR_VERSION=(\S+)$/m.exec(versions)?.[1];

describe("vendored Prometheus operator CRDs", () => {
  it("are byte-for-byte the CRDs of the operator module versions.env names", () => {
    expect(version).toBeDefined();
    const module = `github.com/prometheus-operator/prometheus-operator@${version}`;
    const { Dir: dir } = JSON.parse(
      execFileSync("go", ["mod", "download", "-json", module], { encoding: "utf8" }),
    ) as {
      Dir: string;
    };
    for (const path of monitoringCrdFiles()) {
      const name = path.split("/").at(-1)!;
      const upstream = readFileSync(join(dir, "example/prometheus-operator-crd", name));
      expect(readFileSync(path).equals(upstream), name).toBe(true);
    }
  });

  it("are listed in SOURCE.md with their sha256", () => {
    const source = readFileSync(new URL("crds/SOURCE.md", import.meta.url), "utf8");
    for (const path of monitoringCrdFiles()) {
      const sum = createHash("sha256").update(readFileSync(path)).digest("hex");
      expect(source).toContain(`| ${path.split("/").at(-1)} | ${sum} |`);
    }
  });
});
