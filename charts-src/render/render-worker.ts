/**
 * One render thread of the pool (render-pool.ts): loads cdk8s once, then turns each tenant it is sent into its
 * manifest files with the function in-process synth runs (`renderTenant`).
 */
import { parentPort } from "node:worker_threads";
import type { RenderReply, RenderRequest } from "./render-pool.ts";
import { renderTenant } from "./render-tenant.ts";
import { SynthError } from "./synth-error.ts";

const port = parentPort!;
port.on("message", (request: RenderRequest) => {
  let reply: RenderReply;
  try {
    reply = { id: request.id, files: renderTenant(request.tenant, request.platform) };
  } catch (error) {
    reply = {
      id: request.id,
      error: { message: (error as Error).message, synth: error instanceof SynthError },
    };
  }
  port.postMessage(reply);
});
