/**
 * Types for comlink 4.4's ESM build, which ships `.mjs` files without `.d.mts` next to them: the
 * benchmarks import the ESM files (the UMD `main` would also load, but its default export differs
 * between Node and TypeScript's view of it) and take the types from comlink's own declarations.
 */
declare module "comlink/dist/esm/comlink.mjs" {
  export * from "comlink"
}

declare module "comlink/dist/esm/node-adapter.mjs" {
  import type { Endpoint } from "comlink"
  export interface NodeEndpoint {
    postMessage(message: unknown, transfer?: ReadonlyArray<unknown>): void
    on(type: string, listener: (value: unknown) => void): void
    off(type: string, listener: (value: unknown) => void): void
    start?: () => void
  }
  export default function nodeEndpoint(nep: NodeEndpoint): Endpoint
}
