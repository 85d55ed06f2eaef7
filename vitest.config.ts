import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    exclude: ["node_modules/**", "dist/**"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // One `npx vitest run` runs all three; only the cluster project starts the Kubernetes test cluster (its
    // globalSetup runs only when one of its files is selected, e.g. not for `npx vitest run server/`).
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["**/*.test.ts"], exclude: ["**/*.cluster.test.ts", "test/image/**"] },
      },
      {
        extends: true,
        test: {
          name: "cluster",
          include: ["**/*.cluster.test.ts"],
          globalSetup: ["test/cluster/global-setup.ts"],
          // Waiting for controllers (rollouts, quota status, volume binding) takes seconds, not milliseconds.
          testTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: "image",
          // The image under podman (test/image/README.md); its globalSetup builds dist/image when it is stale.
          include: ["test/image/**/*.test.ts"],
          globalSetup: ["test/image/global-setup.ts"],
          testTimeout: 120_000,
        },
      },
    ],
  },
});
