/**
 * `neurallog controller` as the platform Deployment and an operator start it: the real bin in a child process.
 * Bad input ends in exit 1 and a message naming the problem, before anything connects anywhere.
 */
import { execFile } from "node:child_process";
import { describe, expect, it } from "vitest";
import { App, Chart } from "cdk8s";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { Controller } from "../../charts-src/constructs/controller.ts";
import { resolvePlatform } from "../../charts-src/model/resolve.ts";
import type { PlatformFile } from "../../charts-src/model/tenant-schema.ts";

const BIN = new URL("../../bin/neurallog.ts", import.meta.url).pathname;

function neurallog(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stderr: string }>((resolve) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete childEnv.KUBERNETES_SERVICE_HOST;
    execFile(process.execPath, [BIN, ...args], { env: childEnv, timeout: 20_000 }, (error, _stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
    );
  });
}

describe("neurallog controller", () => {
  it.each([
    [["--mode", "fix-everything"], /--mode must be one of report-only, self-heal, got "fix-everything"/],
    [["--port", "http"], /--port must be a port number \(1-65535\), got "http"/],
    [["--port", "70000"], /--port must be a port number/],
    [["--replicas", "2"], /Unknown option '--replicas'/],
    [[], /not running in a cluster: pass --kubeconfig PATH/],
    [["--kubeconfig", "/nonexistent/kubeconfig"], /cannot load the kubeconfig: .*\/nonexistent\/kubeconfig/],
  ])("refuses %j with a clear message", async (args, message) => {
    const { code, stderr } = await neurallog(["controller", ...args]);
    expect(code).toBe(1);
    expect(stderr).toMatch(message);
  });

  it("accepts the environment the rendered platform Deployment sets", async () => {
    const platformFile = parse(
      readFileSync(new URL("../../tenants/_platform.yaml", import.meta.url), "utf8"),
    );
    const chart = new Chart(new App(), "platform");
    new Controller(chart, "controller", resolvePlatform(platformFile as PlatformFile));
    const deployment = chart.toJson().find((o) => o.kind === "Deployment");
    const container = deployment.spec.template.spec.containers[0];
    expect(container.command).toEqual(["neurallog", "controller"]);
    const env = Object.fromEntries(
      (container.env as { name: string; value?: string }[])
        .filter((e) => e.value !== undefined)
        .map((e) => [e.name, e.value!]),
    );
    expect(Object.keys(env)).toEqual(["NODE_OPTIONS", "NEURALLOG_CONTROLLER_MODE", "NEURALLOG_METRICS_PORT"]);
    // Everything up to the connection is accepted: what remains is the missing in-cluster service account.
    const { code, stderr } = await neurallog(container.command.slice(1), env);
    expect([code, stderr.trim()]).toEqual([
      1,
      "neurallog controller: not running in a cluster: pass --kubeconfig PATH",
    ]);
    const wrong = await neurallog(["controller"], { ...env, NEURALLOG_CONTROLLER_MODE: "selfheal" });
    expect(wrong.stderr).toMatch(/--mode must be one of report-only, self-heal, got "selfheal"/);
  });
});
