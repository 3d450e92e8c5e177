import { defineConfig } from "vitest/config"

// "@troupe/source" resolves `troupe` and `troupe/node` to src/, so tests run the sources without a build.
export default defineConfig({
  resolve: { conditions: ["@troupe/source"] },
  ssr: { resolve: { conditions: ["@troupe/source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
