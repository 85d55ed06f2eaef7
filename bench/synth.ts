/**
 * `npm run bench:synth`: `neurallog synth` (validation included, as users run it) over generated sets of 10, 100
 * and 1000 tenants in a temp folder. Each size runs in a fresh child process, so its peak RSS (VmHWM) is its
 * own. Prints one line per size; the last line is `synth: 1000 tenants in S s`.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SIZES = [10, 100, 1000];
const EXAMPLES = fileURLToPath(new URL("../tenants/", import.meta.url));
/** A child that takes longer than this is broken, not slow. */
const CHILD_TIMEOUT_MS = 300_000;

interface Measurement {
  readonly tenants: number;
  readonly files: number;
  readonly seconds: number;
  readonly peakRssMiB: number;
}

/** Tenant files cycling through the plans and options the examples use, so the mix is realistic. */
function tenantFile(index: number): string {
  const name = `t${String(index).padStart(5, "0")}`;
  const variant = index % 4;
  const lines = [
    "apiVersion: neurallog.io/v1alpha1",
    "kind: Tenant",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    `  plan: ${["small", "standard", "large", "standard"][variant]}`,
    "  owners:",
    `    - { kind: Group, name: ${name}-team }`,
    "  labels:",
    `    cost-center: cc-${index}`,
  ];
  if (variant === 1) {
    lines.push(
      "  server:",
      "    ingress:",
      `      allowedSourceCIDRs: [203.0.113.0/24]`,
      "  network:",
      "    webhookEgress:",
      "      - { cidr: 192.0.2.10/32, ports: [443] }",
    );
  }
  if (variant === 2) {
    lines.push(
      "  redis:",
      `    passwordSecret: { name: ${name}-redis-auth }`,
      "  network:",
      "    apiAccess:",
      "      fromCIDRs: [10.20.0.0/16]",
      "    extraRules:",
      "      - name: allow-collector",
      "        direction: ingress",
      "        peers: [{ namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: otel } } }]",
      "        ports: [{ port: 8080 }]",
    );
  }
  if (variant === 3) lines.push("  suspend: true", "  backup:", "    enabled: false");
  return `${lines.join("\n")}\n`;
}

function peakRssMiB(): number {
  const status = readFileSync("/proc/self/status", "utf8");
  const kib = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

/** In the child: generate `count` tenants, run synth, report one JSON line. */
async function child(count: number): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "nl-bench-synth-"));
  try {
    const tenants = join(work, "tenants");
    mkdirSync(tenants);
    writeFileSync(join(tenants, "_platform.yaml"), readFileSync(join(EXAMPLES, "_platform.yaml")));
    for (let i = 0; i < count; i++)
      writeFileSync(join(tenants, `t${String(i).padStart(5, "0")}.yaml`), tenantFile(i));

    const started = performance.now();
    const { loadTenantTree, validTree } = await import("../charts-src/model/load.ts");
    const { synthesize } = await import("../charts-src/render/synthesize.ts");
    const tree = validTree(await loadTenantTree(tenants));
    if (!tree) throw new Error("generated tenants do not validate");
    const result = await synthesize(tree, join(work, "out"));
    const seconds = (performance.now() - started) / 1000;
    const measurement: Measurement = {
      tenants: count,
      files: result.files,
      seconds,
      peakRssMiB: peakRssMiB(),
    };
    console.log(JSON.stringify(measurement));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function parent(): void {
  const results: Measurement[] = [];
  for (const size of SIZES) {
    const output = execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--child", String(size)], {
      encoding: "utf8",
      timeout: CHILD_TIMEOUT_MS,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const m = JSON.parse(output.trim().split("\n").pop()!) as Measurement;
    results.push(m);
    console.log(
      `${String(m.tenants).padStart(5)} tenants: ${m.seconds.toFixed(2)} s wall, ${m.files} files, peak RSS ${m.peakRssMiB.toFixed(0)} MiB`,
    );
  }
  const at = (n: number) => results.find((r) => r.tenants === n)!;
  console.log(`1000/100 time ratio: ${(at(1000).seconds / at(100).seconds).toFixed(1)}`);
  console.log(`synth: 1000 tenants in ${at(1000).seconds.toFixed(2)} s`);
}

const childIndex = process.argv.indexOf("--child");
if (childIndex >= 0) await child(Number(process.argv[childIndex + 1]));
else parent();
