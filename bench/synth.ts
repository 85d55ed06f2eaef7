/**
 * `npm run bench:synth`: `neurallog synth` over generated sets of 10, 100 and 1000 tenants in a temp folder
 * (`BENCH_SYNTH_DIR` picks another parent folder, e.g. a tmpfs, to separate synth from the disk), measured three
 * ways: the command as users run it (`npx neurallog synth`, into a fresh output folder, then again over its own
 * output, which writes nothing), the same without npx (`node bin/neurallog.ts synth`: what npx itself costs is
 * the difference), and the library call in a fresh child process (its own peak RSS and CPU time). Commands are
 * timed by bash's `time` (wall, and user + system CPU of the process and its threads). The machine is shared:
 * the load average is printed before each size. The last line is `synth: 1000 tenants in S s (npx neurallog
 * synth)`.
 */
import { execFileSync, spawnSync } from "node:child_process";
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

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface CommandTime {
  readonly wall: number;
  readonly cpu: number;
}

/** `command` run by bash from the repository root as a user would type it, timed by bash's `time`. */
function timed(command: string): CommandTime {
  const result = spawnSync("bash", ["-c", `TIMEFORMAT='%R %U %S'; time (${command}) >/dev/null`], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: CHILD_TIMEOUT_MS,
  });
  if (result.status !== 0) throw new Error(`${command} failed:\n${result.stderr}`);
  const [wall, user, sys] = result.stderr.trim().split("\n").pop()!.split(" ").map(Number);
  return { wall: wall!, cpu: user! + sys! };
}

/** The commands users run, over `count` generated tenants. */
function commands(count: number): Record<string, CommandTime> {
  const work = mkdtempSync(join(process.env.BENCH_SYNTH_DIR ?? tmpdir(), "nl-bench-synth-cmd-"));
  try {
    const tenants = join(work, "tenants");
    writeTenantDir(
      tenants,
      Object.fromEntries(
        Array.from({ length: count }, (_, i) => generatedTenant(i)).map((t) => [t.name, t.text]),
      ),
    );
    const synth = (runner: string, out: string) =>
      `${runner} synth --tenants ${tenants} --out ${join(work, out)}`;
    return {
      "npx neurallog synth": timed(synth("npx --no-install neurallog", "npx")),
      "npx neurallog synth (unchanged)": timed(synth("npx --no-install neurallog", "npx")),
      "node bin/neurallog.ts synth": timed(synth("node bin/neurallog.ts", "node")),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function loadLine(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} (2 cores)`;
}

function parent(): void {
  const results: Measurement[] = [];
  const npx = new Map<number, number>();
  for (const size of SIZES) {
    console.log(loadLine());
    for (const [command, t] of Object.entries(commands(size))) {
      if (command === "npx neurallog synth") npx.set(size, t.wall);
      console.log(
        `${String(size).padStart(5)} tenants: ${command}: ${t.wall.toFixed(2)} s wall, ${t.cpu.toFixed(2)} s CPU`,
      );
    }
    const output = execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--child", String(size)], {
      encoding: "utf8",
      timeout: CHILD_TIMEOUT_MS,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const m = JSON.parse(output.trim().split("\n").pop()!) as Measurement;
    results.push(m);
    console.log(
      `${String(m.tenants).padStart(5)} tenants: library call: ${m.seconds.toFixed(2)} s wall, ${m.cpuSeconds.toFixed(2)} s CPU, ` +
        `${m.files} files, peak RSS ${m.peakRssMiB.toFixed(0)} MiB`,
    );
  }
  console.log(`1000/100 time ratio (npx neurallog synth): ${(npx.get(1000)! / npx.get(100)!).toFixed(1)}`);
  console.log(`synth: 1000 tenants in ${npx.get(1000)!.toFixed(2)} s (npx neurallog synth)`);
}

const childIndex = process.argv.indexOf("--child");
if (childIndex >= 0) await child(Number(process.argv[childIndex + 1]));
else parent();
