/**
 * `neurallog diff` output: plain text for terminals and CI logs, Markdown for a pull-request comment. Dangerous
 * changes come first in each tenant and in the summary, so they are read before the details.
 */
import { PLATFORM_SECTION, type SectionDiff } from "./manifest-diff.ts";
import type { TreeDiff } from "./tree-diff.ts";

export type DiffFormat = "text" | "markdown";

const SIGN = { added: "+", removed: "-", changed: "~" } as const;

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

function title(section: SectionDiff): string {
  return section.name === PLATFORM_SECTION ? "platform" : `tenant ${section.name}`;
}

export function summaryLine(diff: TreeDiff): string {
  const tenants = diff.sections.filter((s) => s.name !== PLATFORM_SECTION);
  const by = (status: string) => tenants.filter((s) => s.status === status).length;
  const dangers = diff.sections.reduce((n, s) => n + s.dangers.length, 0);
  const platform = diff.sections.some((s) => s.name === PLATFORM_SECTION) ? ", platform changed" : "";
  if (diff.sections.length === 0) return `no changes (${count(diff.tenantsCompared, "tenant")} compared)`;
  return (
    `${by("added")} added, ${by("changed")} changed, ${by("removed")} removed of ${count(diff.tenantsCompared, "tenant")}` +
    `${platform}; ${count(dangers, "dangerous change")}`
  );
}

export function formatText(diff: TreeDiff, baseRef: string): string {
  const lines = [`neurallog diff against ${baseRef} (${diff.baseCommit.slice(0, 12)})`];
  for (const section of diff.sections) {
    lines.push("", `${title(section)}: ${section.status}, ${count(section.resources.length, "object")}`);
    for (const danger of section.dangers) lines.push(`  ! DANGER ${danger.kind}: ${danger.message}`);
    for (const r of section.resources) {
      lines.push(`  ${SIGN[r.change]} ${r.object}  (${r.path})`);
      for (const l of r.patch ?? []) lines.push(`      ${l}`);
    }
  }
  lines.push("", `diff: ${summaryLine(diff)}`);
  return lines.join("\n");
}

/** GitHub refuses comments over 65536 characters; leave room for the note that says what was left out. */
export const MARKDOWN_LIMIT = 60_000;

/**
 * Markdown for a PR comment; long object lists fold into <details> so the comment stays readable. The summary and
 * every dangerous change always come first; tenant sections that would push the comment over MARKDOWN_LIMIT are
 * left out, with a note saying how many and how to see them.
 */
export function formatMarkdown(diff: TreeDiff, baseRef: string): string {
  const dangers = diff.sections.flatMap((s) => s.dangers.map((d) => ({ section: s, danger: d })));
  const lines = [`### neurallog diff against \`${baseRef}\``, "", `**${summaryLine(diff)}**`];
  if (dangers.length > 0) {
    lines.push("", "> [!CAUTION]", `> ${count(dangers.length, "dangerous change")}:`);
    for (const { section, danger } of dangers)
      lines.push(`> - **${title(section)}** \`${danger.kind}\`: ${danger.message}`);
  }
  let size = lines.join("\n").length;
  let omitted = 0;
  for (const section of diff.sections) {
    const block = markdownSection(section);
    if (omitted > 0 || size + block.length > MARKDOWN_LIMIT) {
      omitted++;
      continue;
    }
    lines.push(block);
    size += block.length + 1;
  }
  if (omitted > 0) {
    lines.push(
      "",
      `_${count(omitted, "more section")} not shown (comment size limit); ` +
        `run \`npx neurallog diff --base ${baseRef}\` to see everything._`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function markdownSection(section: SectionDiff): string {
  const lines = ["", `#### ${title(section)}: ${section.status}`, ""];
  const changed = section.resources.filter((r) => r.change === "changed");
  const listed = section.resources.filter((r) => r.change !== "changed");
  if (listed.length > 0) {
    const what = section.status === "removed" ? "removed" : "added or removed";
    lines.push(`<details><summary>${count(listed.length, "object")} ${what}</summary>`, "");
    for (const r of listed) lines.push(`- \`${SIGN[r.change]}\` ${r.object} — \`${r.path}\``);
    lines.push("", "</details>");
  }
  for (const r of changed) {
    lines.push("", `\`~\` ${r.object}`, "", "```diff", ...(r.patch ?? []), "```");
  }
  return lines.join("\n");
}
