// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import importX from "eslint-plugin-import-x";

/**
 * The programs (top-level folders) and what each may import besides packages and its own folder. `contracts/` is
 * what they share; `cli/` and `bin/` are the composition root (the `neurallog` command wires the programs
 * together) and may import anything; `test/`, `bench/`, `scripts/` and `image/` span programs. The same map is
 * measured by `scripts/architecture-figures.ts`.
 */
const PROGRAMS = ["charts-src", "server", "controller", "gitops", "backup"];
const COMPOSITION_ROOT = ["cli", "bin"];

/** @type {{ target: string; from: string; except?: string[]; message: string }[]} */
const zones = [
  ...PROGRAMS.flatMap((program) =>
    [...PROGRAMS, ...COMPOSITION_ROOT]
      .filter((other) => other !== program)
      .map((other) =>
        program === "gitops" && other === "charts-src"
          ? {
              target: `./${program}`,
              from: `./${other}`,
              except: ["./index.ts"],
              message: "gitops reaches charts-src only through its public entry point, charts-src/index.ts.",
            }
          : {
              target: `./${program}`,
              from: `./${other}`,
              message: `${program}/ imports contracts/, never another program (${other}/); see contracts/README.md.`,
            },
      ),
  ),
  {
    target: "./contracts",
    from: [...PROGRAMS, ...COMPOSITION_ROOT].map((folder) => `./${folder}`),
    message: "contracts/ imports only packages: it is what the programs share, and belongs to none of them.",
  },
];

/** Production modules: what the boundaries and the cycle check are about (tests may span programs). */
const PRODUCTION = [...PROGRAMS, ...COMPOSITION_ROOT, "contracts"].map((folder) => `${folder}/**/*.ts`);

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "coverage/", "**/*.generated.*"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      // A promise nobody awaits loses its rejection (an unhandled rejection ends the process) and its ordering.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "no-console": "off",
    },
  },
  {
    files: PRODUCTION,
    ignores: ["**/*.test.ts"],
    plugins: { "import-x": importX },
    settings: { "import-x/extensions": [".ts"] },
    rules: {
      "import-x/no-restricted-paths": ["error", { zones }],
      "import-x/no-cycle": "error",
    },
  },
  { files: ["**/*.js"], ...tseslint.configs.disableTypeChecked },
);
