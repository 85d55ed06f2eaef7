/**
 * The users the images run as, which the rendered pods' security contexts must match (runAsUser, runAsGroup,
 * fsGroup): one fact for image/build.ts and charts-src/constructs/pod-security.ts. Both are ≥ 10000, so neither
 * maps to a user the node (or a host-mounted volume) may know (uid 999 is a Debian system account: `redis` on a
 * node that runs Redis too).
 */

/** The NeuralLog image (server, backup job, controller). */
export const NEURALLOG_UID = 10001;
/** The Redis image built by image/build.ts; the official Redis image runs as any uid given a writable /data. */
export const REDIS_UID = 10999;
