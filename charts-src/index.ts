/**
 * charts-src's public entry point: the one module of charts-src that gitops (which orchestrates validation and
 * rendering) imports (lint-enforced). Rendering loads cdk8s, so it is reached through `loadRenderer()` on first use;
 * a command that only validates does not pay for it.
 */
export { formatDiagnostic, type Diagnostic } from "./model/diagnostic.ts";
export { loadTenantTree, PLATFORM_FILE } from "./model/load.ts";
export type { LoadResult } from "./model/loaded-tree.ts";
export type { SynthTenant } from "./model/resolve.ts";
export { MAX_TENANT_NAME_LENGTH } from "./model/tenant-schema.ts";

export const loadRenderer = () => import("./render/synthesize.ts");
