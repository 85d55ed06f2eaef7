import { describe, expect, it } from "vitest";
import { formatMarkdown, formatText } from "../../gitops/diff-report.ts";
import type { SectionDiff } from "../../gitops/manifest-diff.ts";
import type { TreeDiff } from "../../gitops/tree-diff.ts";

function section(i: number): SectionDiff {
  const name = `t${String(i).padStart(4, "0")}`;
  return {
    name,
    status: "changed",
    resources: [
      {
        path: `tenants/${name}/configmap-neurallog-tenant.yaml`,
        object: `ConfigMap nl-${name}/neurallog-tenant`,
        change: "changed",
        patch: [
          "@@ -1,3 +1,3 @@",
          ...Array.from({ length: 30 }, (_, l) => ` line ${l} of a long rendered object`),
        ],
      },
    ],
    dangers:
      i === 999
        ? [{ kind: "storage-shrink", object: `StatefulSet nl-${name}/redis`, message: "shrinks 50Gi → 20Gi" }]
        : [],
  };
}

const many: TreeDiff = {
  baseCommit: "0123456789abcdef",
  tenantsCompared: 1000,
  tenantsRendered: 1000,
  sections: Array.from({ length: 1000 }, (_, i) => section(i)),
  diagnostics: [],
};

describe("diff reports", () => {
  it("keep a PR comment under GitHub's size limit, dangers first, saying what was left out", () => {
    const markdown = formatMarkdown(many, "origin/main");
    expect(markdown.length).toBeLessThan(65_536);
    expect(markdown).toContain("**0 added, 1000 changed, 0 removed of 1000 tenants; 1 dangerous change**");
    expect(markdown).toContain("> - **tenant t0999** `storage-shrink`: shrinks 50Gi → 20Gi");
    expect(markdown).toContain("#### tenant t0000: changed");
    expect(markdown).not.toContain("#### tenant t0999");
    expect(markdown).toMatch(
      /_\d+ more sections not shown \(comment size limit\); run `npx neurallog diff --base origin\/main`/,
    );
  });

  it("print everything in text form", () => {
    const text = formatText(many, "origin/main");
    expect(text).toContain("tenant t0999: changed, 1 object");
    expect(text.split("\n").at(-1)).toBe(
      "diff: 0 added, 1000 changed, 0 removed of 1000 tenants; 1 dangerous change",
    );
  });
});
