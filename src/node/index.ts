/**
 * Troupe's Node backends, each a Layer that provides a Backend: worker threads (`Workers`) and child
 * processes (`Subprocess`). Spawn on them with `Actor.spawn(P, { id, backend: Workers })`.
 */
export { Workers } from "./Workers.ts"
export { Subprocess } from "./Subprocess.ts"
export type { PoolBackend, PoolNode } from "./internal/pool.ts"
export { Remote } from "./Remote.ts"
export type { RemoteBackend, ClientTls, Options as RemoteOptions } from "./Remote.ts"
export * as Server from "./Server.ts"
