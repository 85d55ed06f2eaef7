/**
 * `npm run bench:synth`: `neurallog synth` as users run it (loading and validation included) over generated
 * sets of 10, 100 and 1000 tenants in a temp folder (`BENCH_SYNTH_DIR` picks another parent folder, e.g. a
 * tmpfs, to separate synth from the disk). Each size runs in a fresh child process, so its peak RSS (VmHWM)
 * and CPU time are its own. The machine is shared: the load average is printed so a slow figure can be read
 * in context. The last line is `synth: 1000 tenants in S s`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generatedTenant, writeTenantDir } from "../test/synth/tenant-sets.ts";

const SIZES = [10, 100, 1000];
/** A child that takes longer than this is broken, not slow. */
const CHILD_TIMEOUT_MS = 300_000;

interface Measurement {
  readonly tenants: number;
  readonly files: number;
  /** Wall time of load + validate + render + write, module loading included. */
  readonly seconds: number;
  /** CPU time (user + system) over the same span. */
  readonly cpuSeconds: number;
  readonly peakRssMiB: number;
}

function peakRssMiB(): number {
  const status = readFileSync("/proc/self/status", "utf8");
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? NaN) / 1024;
}

/** In the child: generate `count` tenant files, run synth on them, report one JSON line. */
async function child(count: number): Promise<void> {
  const work = mkdtempSync(join(process.env.BENCH_SYNTH_DIR ?? tmpdir(), "nl-bench-synth-"));
  try {
    const tenants = join(work, "tenants");
    const generated = Array.from({ length: count }, (_, i) => generatedTenant(i));
    writeTenantDir(tenants, Object.fromEntries(generated.map((t) => [t.name, t.text])));

    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const { loadTenantTree, validTree } = await import("../charts-src/model/load.ts");
    const { synthesize } = await import("../charts-src/render/synthesize.ts");
    const tree = validTree(await loadTenantTree(tenants));
    if (!tree) throw new Error("the generated tenants do not validate");
    const result = await synthesize(tree, join(work, "out"));
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const measurement: Measurement = {
      tenants: count,
      files: result.files,
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      peakRssMiB: peakRssMiB(),
    };
    console.log(JSON.stringify(measurement));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function parent(): void {
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} (2 cores)`,
  );
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
      `${String(m.tenants).padStart(5)} tenants: ${m.seconds.toFixed(2)} s wall, ${m.cpuSeconds.toFixed(2)} s CPU, ` +
        `${m.files} files, peak RSS ${m.peakRssMiB.toFixed(0)} MiB`,
    );
  }
  const at = (n: number) => results.find((r) => r.tenants === n)!;
  console.log(`1000/100 time ratio: ${(at(1000).seconds / at(100).seconds).toFixed(1)}`);
  console.log(`synth: 1000 tenants in ${at(1000).seconds.toFixed(2)} s`);
}

const childIndex = process.argv.indexOf("--child");
if (childIndex >= 0) await child(Number(process.argv[childIndex + 1]));
else parent();
