/**
 * Subprocess: the child-process backend. Actors spawned with `backend: Subprocess` run in a pool of
 * child processes (`fork`) that load the host module; calls travel as CBOR batches over the IPC
 * channel. A child whose parent dies exits by itself, so no orphan is left behind.
 */
import { Context, type Layer } from "effect"
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import type * as ActorError from "../ActorError.ts"
import { entryUrl, hostHref } from "./internal/entry.ts"
import * as Pool from "./internal/pool.ts"

/** Options of the child-process backend. */
export interface Options {
  /** The host module: its exported behaviour Layers are what can be spawned in the children. */
  readonly host: URL | string
  /** Number of child processes. Default 1. Actor ids are spread over them by hash. */
  readonly size?: number | undefined
  /** How long a child may take to load the host module, in ms. Default 30 000. */
  readonly startTimeout?: number | undefined
  /** Extra `execArgv` for the children (they inherit the parent's, so `tsx` keeps working). */
  readonly execArgv?: ReadonlyArray<string> | undefined
  /** Environment of the children. Default: the parent's. */
  readonly env?: NodeJS.ProcessEnv | undefined
  /** @internal wire version to announce (tests) */
  readonly wireVersion?: number | undefined
}

/**
 * The child-process backend's service key.
 *
 * @example
 * ```ts
 * const calc = yield* Actor.spawn(Calculator, { id: "calc", backend: Subprocess })
 * // provided by
 * Subprocess.layer({ host: new URL("./actors.ts", import.meta.url) })
 * ```
 */
export class Subprocess extends Context.Service<Subprocess, Pool.PoolBackend>()("troupe/node/Subprocess") {
  /** A pool of child processes serving the host module; closing the Layer's scope stops them. */
  static layer(options: Options): Layer.Layer<Subprocess, ActorError.ActorError> {
    return Pool.layer(Subprocess, {
      label: "child",
      size: options.size ?? 1,
      startTimeout: options.startTimeout ?? 30_000,
      version: options.wireVersion,
      start: (_index, nodeId) =>
        fork(fileURLToPath(entryUrl("child")), [nodeId, hostHref(options.host)], {
          serialization: "advanced",
          execArgv: [...process.execArgv, ...(options.execArgv ?? [])],
          ...(options.env !== undefined ? { env: options.env } : {})
        })
    })
  }
}
