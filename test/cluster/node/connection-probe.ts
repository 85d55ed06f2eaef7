/**
 * A client pod that tries to reach targets and reports what happened, for NetworkPolicy tests. It runs Node's own
 * resolver and sockets in our image. Targets expected open are tried first, again and again until they connect
 * (policies for a new pod take a moment to be programmed); only then are the ones expected closed tried, once
 * each, with the same timeout the open ones just met: so "closed" is never the result of a client that had no
 * network yet. The outcome of each target is printed, never judged in the pod: the test compares.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { clientPodSpec } from "./rendered-tenant.ts";

export interface ProbeTarget {
  readonly name: string;
  /** A Service name (resolved through cluster DNS) or an address. */
  readonly host: string;
  /** A TCP port; without one the target is a DNS lookup of `host`. */
  readonly port?: number;
  readonly expect: "open" | "closed";
}

/** `connected` / `resolved <address>`, or the error (e.g. `timeout`, `ECONNREFUSED`, `EAI_AGAIN`). */
export type ProbeOutcome = string;

export const CONNECT_TIMEOUT_MS = 3_000;
const OPEN_DEADLINE_MS = 60_000;

const SCRIPT = `
const net = require("node:net"), dns = require("node:dns/promises");
const targets = JSON.parse(process.env.TARGETS);
function once(t) {
  if (t.port === undefined)
    return dns.lookup(t.host).then((r) => "resolved " + r.address, (e) => e.code || String(e));
  return new Promise((done) => {
    const socket = net.connect({ host: t.host, port: t.port });
    const timer = setTimeout(() => { socket.destroy(); done("timeout"); }, ${CONNECT_TIMEOUT_MS});
    socket.once("connect", () => { clearTimeout(timer); socket.destroy(); done("connected"); });
    socket.once("error", (e) => { clearTimeout(timer); done(e.code || String(e)); });
  });
}
const reached = (o) => o === "connected" || o.startsWith("resolved ");
(async () => {
  const outcomes = {};
  const deadline = Date.now() + ${OPEN_DEADLINE_MS};
  for (const t of targets.filter((t) => t.expect === "open")) {
    let o = await once(t);
    while (!reached(o) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      o = await once(t);
    }
    outcomes[t.name] = o;
  }
  for (const t of targets.filter((t) => t.expect === "closed")) outcomes[t.name] = await once(t);
  console.log(JSON.stringify(outcomes));
})();`;

export function probePod(
  name: string,
  targets: readonly ProbeTarget[],
  labels: Record<string, string> = {},
): V1Pod {
  const spec = clientPodSpec(["node", "-e", SCRIPT]);
  spec.containers[0]!.env = [{ name: "TARGETS", value: JSON.stringify(targets) }];
  return { metadata: { name, labels }, spec };
}

/** What the test expects to see: `connected`/`resolved …` for open targets, anything else for closed ones. */
export function reachedTargets(outcomes: Record<string, ProbeOutcome>): Record<string, boolean> {
  return Object.fromEntries(
    Object.entries(outcomes).map(([name, o]) => [name, o === "connected" || o.startsWith("resolved ")]),
  );
}

export function expectedReach(targets: readonly ProbeTarget[]): Record<string, boolean> {
  return Object.fromEntries(targets.map((t) => [t.name, t.expect === "open"]));
}
