/**
 * `node scripts/architecture-figures.ts [--json]`: the figures the architecture is judged by (issue 13), measured
 * from the code rather than kept by hand: imports from one program's folder into another's, import cycles, and
 * the longest functions. Production modules only (no `*.test.ts`, nothing under `test/`, `bench/`, `scripts/`).
 *
 * A program is a top-level folder. `cli/` and `bin/` are the composition root (the `neurallog` command wires the
 * programs together) and may import any of them; `contracts/` is what the programs share.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import ts from "typescript";

const ROOT = path.join(import.meta.dirname, "..");
const PROGRAMS = ["charts-src", "server", "controller", "gitops", "backup", "contracts"];
/** gitops orchestrates rendering: charts-src's public entry point is its one way in. */
const ALLOWED: Record<string, (target: string) => boolean> = {
  gitops: (target) => target === "charts-src/index.ts",
};

function productionModules(): string[] {
  return execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts"], {
    cwd: ROOT,
  })
    .toString()
    .split("\n")
    .filter((f) => f !== "" && !f.endsWith(".test.ts") && !f.endsWith(".d.ts"))
    .filter((f) => !/^(test|bench|scripts|node_modules)\//.test(f) && f.includes("/"));
}

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly typeOnly: boolean;
}

function importsOf(file: string, source: ts.SourceFile): Edge[] {
  const edges: Edge[] = [];
  const add = (specifier: string, typeOnly: boolean) => {
    if (!specifier.startsWith(".")) return;
    edges.push({
      from: file,
      to: path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)),
      typeOnly,
    });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        !!clause &&
        (clause.isTypeOnly ||
          (!clause.name &&
            !!clause.namedBindings &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, typeOnly);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node.arguments[0].text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

interface FunctionSize {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly lines: number;
}

function functionsOf(file: string, source: ts.SourceFile): FunctionSize[] {
  const found: FunctionSize[] = [];
  const nameOf = (node: ts.Node): string => {
    if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) && node.name)
      return node.name.getText(source);
    if (ts.isConstructorDeclaration(node)) {
      const owner = node.parent;
      return `${ts.isClassLike(owner) && owner.name ? owner.name.text : "class"} constructor`;
    }
    const parent = node.parent;
    if (
      ts.isVariableDeclaration(parent) ||
      ts.isPropertyAssignment(parent) ||
      ts.isPropertyDeclaration(parent)
    )
      return parent.name.getText(source);
    return "(anonymous)";
  };
  const visit = (node: ts.Node) => {
    if (
      (ts.isFunctionDeclaration(node) ||
        ts.isMethodDeclaration(node) ||
        ts.isConstructorDeclaration(node) ||
        ts.isArrowFunction(node) ||
        ts.isFunctionExpression(node) ||
        ts.isGetAccessorDeclaration(node)) &&
      node.body
    ) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({ name: nameOf(node), file, line: start + 1, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Strongly connected components with more than one module (Tarjan), i.e. the import cycles. */
function cycles(files: readonly string[], edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) if (next.has(e.to)) next.get(e.from)!.push(e.to);
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (v: string) => {
    indexOf.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v)!) {
      if (!indexOf.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const f of files) if (!indexOf.has(f)) connect(f);
  return components;
}

const programOf = (file: string) => file.split("/")[0]!;

export function measure() {
  const files = productionModules();
  const edges: Edge[] = [];
  const functions: FunctionSize[] = [];
  for (const file of files) {
    const source = ts.createSourceFile(
      file,
      readFileSync(path.join(ROOT, file), "utf8"),
      ts.ScriptTarget.Latest,
      true,
    );
    edges.push(...importsOf(file, source));
    functions.push(...functionsOf(file, source));
  }
  const crossProgram = edges.filter((e) => {
    const from = programOf(e.from);
    const to = programOf(e.to);
    return PROGRAMS.includes(from) && PROGRAMS.includes(to) && from !== to && to !== "contracts";
  });
  const forbidden = crossProgram.filter((e) => !ALLOWED[programOf(e.from)]?.(e.to));
  return {
    modules: files.length,
    crossProgram: crossProgram.map((e) => `${e.from} → ${e.to}${e.typeOnly ? " (type)" : ""}`),
    forbidden: forbidden.map((e) => `${e.from} → ${e.to}${e.typeOnly ? " (type)" : ""}`),
    cycles: cycles(files, edges),
    runtimeCycles: cycles(
      files,
      edges.filter((e) => !e.typeOnly),
    ),
    longestFunctions: functions
      .sort((a, b) => b.lines - a.lines)
      .slice(0, 15)
      .map((f) => `${f.lines} ${f.name} (${f.file}:${f.line})`),
    functionsOver80: functions.filter((f) => f.lines > 80).length,
    longerThan80: functions
      .filter((f) => f.lines > 80)
      .map((f) => `${f.lines} ${f.name} (${f.file}:${f.line})`),
  };
}

if (import.meta.main) {
  const figures = measure();
  if (process.argv.includes("--json")) console.log(JSON.stringify(figures, null, 2));
  else {
    console.log(`production modules: ${figures.modules}`);
    console.log(`imports from one program into another (not contracts/): ${figures.crossProgram.length}`);
    for (const e of figures.crossProgram) console.log(`  ${e}`);
    console.log(`of them not allowed (gitops → charts-src/index.ts is): ${figures.forbidden.length}`);
    console.log(`import cycles (any import): ${figures.cycles.length}`);
    for (const c of figures.cycles) console.log(`  ${c.join(" ↔ ")}`);
    console.log(`import cycles (runtime imports, no import type): ${figures.runtimeCycles.length}`);
    console.log(`functions over 80 lines: ${figures.functionsOver80}; longest:`);
    for (const f of figures.longestFunctions) console.log(`  ${f}`);
  }
}
