/**
 * NODE_OPTIONS for every container that runs the NeuralLog image, sized from that container's memory limit. The
 * image's own default (`--max-old-space-size=256`) is right for a plain `podman run`, but in a 256Mi container a
 * 304 MiB heap (256 old + 48 young) plus buffers and code is an OOM kill, and in a 1Gi one it is a needlessly
 * small heap. The server's ingest budget (server/ingest/ingest-memory.ts) is a share of this heap, so sizing the
 * heap also sizes the backpressure.
 *
 * Why 60%: measured with `npm run bench:memory` (the real image under podman at each plan's limit), the idle
 * server holds ~100 MiB anonymous (code, stacks, the heap at start) and ~60 MiB of the Node binary's file pages
 * (reclaimable, but re-read at once when dropped). At 256Mi a heap of 60% (153 MiB) leaves ~100 MiB for what is
 * not heap (that idle part outside the heap, the off-heap Buffers in flight, which the ingest budget also counts);
 * 70% (179 MiB) would leave ~75 MiB, about the idle non-heap part alone. Under the bench's worst load the
 * peak was the same at 50, 60 and 70% (~180 MiB of 256Mi): the ingest budget, not the heap, bounds it; the share
 * is for the case the budget does not cover (queries, tails, a leak), which then ends as V8's heap limit rather
 * than the kernel's OOM kill of a container that also serves the probes.
 */
import type * as k8s from "cdk8s-plus-33/lib/imports/k8s.js";
import { parseQuantity } from "../../contracts/quantity.ts";

/** Share of the container's memory limit the whole V8 heap (old + young generation) may reach. */
export const HEAP_SHARE = 0.6;
/**
 * The image's semi-space (MiB), kept for ingest throughput; V8's young generation is three of them, so below 512Mi
 * it shrinks to a 32nd of the limit (8 MiB at 256Mi) rather than take a fifth of the container.
 */
const SEMI_SPACE_MIB = 16;
/** Below this the old space is too small to start the server at all; a limit that low is the tenant's choice. */
const MIN_OLD_SPACE_MIB = 48;

const MiB = 1024 * 1024;

/**
 * The V8 flags for a container whose memory limit is `memoryLimit` (a Kubernetes quantity such as `256Mi`);
 * `share` other than HEAP_SHARE is for `npm run bench:memory` to compare.
 */
export function nodeOptions(memoryLimit: string, share = HEAP_SHARE): string {
  const limitMiB = Math.floor((parseQuantity(memoryLimit) ?? 0) / MiB);
  if (limitMiB <= 0) throw new Error(`memory limit ${memoryLimit} is not a positive quantity`);
  const semi = Math.max(1, Math.min(SEMI_SPACE_MIB, Math.floor(limitMiB / 32)));
  const old = Math.max(MIN_OLD_SPACE_MIB, Math.floor(limitMiB * share) - 3 * semi);
  return `--max-semi-space-size=${semi} --max-old-space-size=${old}`;
}

/** The NODE_OPTIONS variable of a container whose memory limit is `memoryLimit`. */
export function nodeOptionsEnv(memoryLimit: string): k8s.EnvVar {
  return { name: "NODE_OPTIONS", value: nodeOptions(memoryLimit) };
}
