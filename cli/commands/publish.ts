/**
 * `neurallog publish --repo URL_OR_PATH [--branch B] [--tenants DIR] [--message-prefix TEXT]`: validates the
 * tenant directory, renders it (through the render cache) and commits the result to the deployment repo. With
 * any validation error nothing is rendered or pushed. Prints the pushed commit, or that nothing changed.
 */
import { formatDiagnostic, loadTenantTree } from "../../charts-src/model/load.ts";
import { renderCached, renderedFiles } from "../../gitops/cached-render.ts";
import { PublishError, publishRendered } from "../../gitops/deployment-repo.ts";
import { RenderCache } from "../../gitops/render-cache.ts";
import { sourceCommit } from "../../gitops/source-commit.ts";
import { readTreeSource } from "../../gitops/tenant-source.ts";
import { GitError } from "simple-git";
import { parseFlags, UsageError } from "../args.ts";

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    repo: { type: "string" },
    branch: { type: "string" },
    tenants: { type: "string", default: "tenants" },
    "message-prefix": { type: "string", default: "" },
  });
  if (!values.repo) throw new UsageError("--repo URL_OR_PATH is required");

  const loaded = await loadTenantTree(values.tenants);
  const errors = loaded.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0 || !loaded.platform) {
    for (const d of errors) console.error(formatDiagnostic(d));
    console.error("neurallog publish: nothing published; fix the errors above");
    return 1;
  }
  const branch = values.branch ?? loaded.platform.resolved.deploymentRepo.branch;

  const cache = new RenderCache();
  const source = await readTreeSource(values.tenants);
  const rendered = await renderCached(source, [...source.tenants.keys()], { cache, platform: true });
  if (rendered.diagnostics.length > 0) {
    for (const d of rendered.diagnostics) console.error(formatDiagnostic(d));
    console.error("neurallog publish: nothing published; fix the errors above");
    return 1;
  }
  try {
    const result = await publishRendered({
      repo: values.repo,
      branch,
      files: renderedFiles(rendered),
      source: await sourceCommit(values.tenants),
      messagePrefix: values["message-prefix"],
    });
    if (!result.commit) {
      console.log(`neurallog publish: ${values.repo} ${branch} is up to date; nothing committed`);
      return 0;
    }
    const { added, changed, removed } = result.changes;
    console.log(
      `neurallog publish: ${result.commit} on ${branch} (${added.length} added, ${changed.length} changed, ` +
        `${removed.length} removed, ${result.changes.files.length} files, push attempts ${result.attempts})`,
    );
    return 0;
  } catch (error) {
    // git's own refusals (a bad branch name, no permission) are answers for the user, not crashes.
    if (!(error instanceof PublishError || error instanceof GitError)) throw error;
    const cause = error.cause instanceof Error ? `: ${error.cause.message.trim()}` : "";
    console.error(`neurallog publish: ${error.message.trim()}${cause}`);
    return 1;
  }
}
