import { cp, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadTenantTree } from "../../charts-src/model/load.ts";
import { run } from "../../cli/commands/tenant.ts";

const EXAMPLES = path.join(import.meta.dirname, "../../tenants");

let dir: string;
let errors: string[];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "nl-tenant-new-"));
  await cp(EXAMPLES, dir, { recursive: true });
  errors = [];
  vi.spyOn(console, "error").mockImplementation((line: string) => void errors.push(line));
  vi.spyOn(console, "log").mockImplementation(() => undefined);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

describe("neurallog tenant new", () => {
  it("writes a commented tenant file that validates with the rest of the tree", async () => {
    const code = await run([
      "new",
      "newco",
      "--tenants",
      dir,
      "--plan",
      "small",
      "--owner",
      "jane@newco.example",
    ]);

    expect(code).toBe(0);
    const text = await readFile(path.join(dir, "newco.yaml"), "utf8");
    expect(text).toContain("# Removing a tenant takes two pull requests");
    const tree = await loadTenantTree(dir);
    expect(tree.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const newco = tree.tenants.find((t) => t.value.metadata.name === "newco");
    expect(newco?.resolved).toMatchObject({
      namespace: "nl-newco",
      plan: "small",
      owners: [{ kind: "User", name: "jane@newco.example", email: "jane@newco.example" }],
    });
  });

  it("defaults to the platform's default plan and a placeholder owner group", async () => {
    expect(await run(["new", "newco", "--tenants", dir])).toBe(0);
    const tree = await loadTenantTree(dir);
    expect(tree.tenants.find((t) => t.value.metadata.name === "newco")?.resolved).toMatchObject({
      plan: "standard",
      owners: [{ kind: "Group", name: "newco-owners" }],
    });
  });

  it("refuses a name in use, leaving the existing file untouched", async () => {
    const before = await readFile(path.join(dir, "acme.yaml"), "utf8");
    expect(await run(["new", "acme", "--tenants", dir])).toBe(1);
    expect(errors.join("\n")).toContain(`name "acme" is already in use by ${path.join(dir, "acme.yaml")}`);
    expect(await readFile(path.join(dir, "acme.yaml"), "utf8")).toBe(before);
  });

  it("refuses a name whose namespace another tenant already uses", async () => {
    const file = path.join(dir, "other.yaml");
    await writeFile(
      file,
      (await readFile(path.join(dir, "initech.yaml"), "utf8")).replace(/initech-logs/, "nl-newco"),
    );
    expect(await run(["new", "newco", "--tenants", dir])).toBe(1);
    expect(errors.join("\n")).toContain("namespace nl-newco is already in use");
  });

  it("refuses invalid names and unknown plans, listing the known ones", async () => {
    const listing = await readdir(dir);
    expect(await run(["new", "New_Co", "--tenants", dir])).toBe(1);
    expect(await run(["new", "x".repeat(46), "--tenants", dir])).toBe(1);
    expect(await run(["new", "newco", "--plan", "huge", "--tenants", dir])).toBe(1);
    expect(await run(["new", "newco", "--owner", "nobody", "--tenants", dir])).toBe(1);
    expect(errors).toEqual([
      expect.stringContaining('invalid tenant name "New_Co"'),
      expect.stringContaining("at most 45 characters"),
      'neurallog tenant new: unknown plan "huge"; known plans: large, small, standard',
      expect.stringContaining('invalid owner "nobody"'),
    ]);
    expect(await readdir(dir)).toEqual(listing);
  });
});
