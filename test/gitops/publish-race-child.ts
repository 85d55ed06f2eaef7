/** One racing publisher, run as its own process by publish.test.ts: `node publish-race-child.ts REPO RENDERED SOURCE`. */
import { publishRendered, readRenderedTree } from "../../gitops/deployment-repo.ts";

const [repo, renderedDir, source] = process.argv.slice(2);
const result = await publishRendered({
  repo: repo!,
  branch: "main",
  files: await readRenderedTree(renderedDir!),
  source: source!,
});
process.stdout.write(JSON.stringify(result));
