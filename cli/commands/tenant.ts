/**
 * `neurallog tenant new NAME [--plan P] [--owner OWNER]... [--tenants DIR]`: scaffolds `DIR/NAME.yaml`, a
 * commented tenant file that passes validation as written. Refuses a name that is invalid or already in use
 * (as a file, a tenant name or a namespace) and a plan the platform file does not define.
 */
import { readdir, readFile, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { parseOwner, renderTenantFile, tenantNameProblem } from "../../gitops/tenant-scaffold.ts";
import { validateTenantTree } from "../../gitops/tenant-tree.ts";
import { parseFlags, UsageError } from "../args.ts";

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const PLATFORM_FILE = "_platform.yaml";

const USAGE =
  "usage: neurallog tenant new NAME [--plan P] [--owner group:NAME|user:NAME|EMAIL]... [--tenants DIR]";

interface ExistingTenant {
  readonly file: string;
  readonly name?: string;
  readonly namespace?: string;
}

/** Names and namespaces of the tenant files already there; unparsable files still count by file name. */
async function existingTenants(dir: string): Promise<ExistingTenant[]> {
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f) && !f.startsWith("_"));
  return Promise.all(
    files.map(async (file) => {
      try {
        const doc = parse(await readFile(path.join(dir, file), "utf8")) as {
          metadata?: { name?: unknown };
          spec?: { namespace?: unknown };
        } | null;
        const name = typeof doc?.metadata?.name === "string" ? doc.metadata.name : undefined;
        const namespace =
          typeof doc?.spec?.namespace === "string" ? doc.spec.namespace : name ? `nl-${name}` : undefined;
        return { file, name, namespace };
      } catch {
        return { file };
      }
    }),
  );
}

interface PlatformFacts {
  readonly defaultPlan: string;
  readonly planNames: string[];
  readonly baseDomain: string;
}

async function platformFacts(dir: string): Promise<PlatformFacts> {
  const file = path.join(dir, PLATFORM_FILE);
  let spec: { defaultPlan?: unknown; plans?: unknown; baseDomain?: unknown } | undefined;
  try {
    spec = (parse(await readFile(file, "utf8")) as { spec?: typeof spec } | null)?.spec;
  } catch (error) {
    throw new Error(`cannot read the platform file ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (
    !spec ||
    typeof spec.plans !== "object" ||
    spec.plans === null ||
    typeof spec.defaultPlan !== "string"
  ) {
    throw new Error(`${file}: no spec.plans / spec.defaultPlan; run \`neurallog validate\``);
  }
  return {
    defaultPlan: spec.defaultPlan,
    planNames: Object.keys(spec.plans).sort(),
    baseDomain: typeof spec.baseDomain === "string" ? spec.baseDomain : "example.com",
  };
}

async function tenantNew(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      plan: { type: "string" },
      owner: { type: "string", multiple: true },
      tenants: { type: "string", default: "tenants" },
    },
    true,
  );
  if (positionals.length !== 1) throw new UsageError(USAGE);
  const name = positionals[0]!;
  const dir = values.tenants;

  const nameProblem = tenantNameProblem(name);
  if (nameProblem) {
    console.error(`neurallog tenant new: ${nameProblem}`);
    return 1;
  }
  let platform: PlatformFacts;
  try {
    platform = await platformFacts(dir);
  } catch (error) {
    console.error(`neurallog tenant new: ${(error as Error).message}`);
    return 1;
  }
  const plan = values.plan ?? platform.defaultPlan;
  if (!platform.planNames.includes(plan)) {
    console.error(
      `neurallog tenant new: unknown plan "${plan}"; known plans: ${platform.planNames.join(", ")}`,
    );
    return 1;
  }
  let owners;
  try {
    owners = (values.owner ?? [`group:${name}-owners`]).map(parseOwner);
  } catch (error) {
    console.error(`neurallog tenant new: ${(error as Error).message}`);
    return 1;
  }

  const namespace = `nl-${name}`;
  const clash = (await existingTenants(dir)).find(
    (t) => t.file.replace(/\.ya?ml$/, "") === name || t.name === name || t.namespace === namespace,
  );
  if (clash) {
    const what =
      clash.namespace === namespace && clash.name !== name ? `namespace ${namespace}` : `name "${name}"`;
    console.error(`neurallog tenant new: ${what} is already in use by ${path.join(dir, clash.file)}`);
    return 1;
  }

  const file = path.join(dir, `${name}.yaml`);
  const text = renderTenantFile({
    name,
    plan,
    planNames: platform.planNames,
    owners,
    baseDomain: platform.baseDomain,
    schemaPath: path.relative(path.resolve(dir), path.join(PACKAGE_ROOT, "schemas/tenant.schema.json")),
  });
  // `wx`: a file that appeared since the check above is never overwritten.
  await writeFile(file, text, { flag: "wx" });

  // The new file must pass the same checks as every other (cross-tenant ones too: an explicit host elsewhere
  // may equal this tenant's default host). A file that does not is removed again, not left half-done.
  const problems = await validateTenantTree(dir, file);
  if (problems.length > 0) {
    await unlink(file);
    for (const line of problems) console.error(line);
    console.error(`neurallog tenant new: the scaffolded ${file} would not validate; nothing written`);
    return 1;
  }
  console.log(file);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "new") return tenantNew(rest);
  throw new UsageError(USAGE);
}
