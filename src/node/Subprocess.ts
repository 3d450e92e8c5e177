/**
 * Subprocess: the child-process backend. Actors spawned with `backend: Subprocess` run in a pool of
 * child processes that load the host module; calls travel as length-prefixed CBOR batches over a pipe
 * (fd 3). A child whose parent dies sees the pipe end and exits, so no orphan is left behind.
 */
import { Context, type Layer } from "effect"
import type * as ActorError from "../ActorError.ts"
import { startChild } from "./internal/handles.ts"
import * as Pool from "./internal/pool.ts"
import type * as Supervision from "../Supervision.ts"

/** Options of the child-process backend. */
export interface Options {
  /** The host module: its exported behaviour Layers are what can be spawned in the children. */
  readonly host: URL | string
  /** Number of child processes. Default 1. Actor ids are spread over them by hash. */
  readonly size?: number | undefined
  /** How long a child may take to load the host module, in ms. Default 30 000. */
  readonly startTimeout?: number | undefined
  /** How long a child may take to stop its actors when the Layer is released, in ms. Default 3 000. */
  readonly stopTimeout?: number | undefined
  /** Extra `execArgv` for the children (they inherit the parent's, so `tsx` keeps working). */
  readonly execArgv?: ReadonlyArray<string> | undefined
  /** Environment of the children. Default: the parent's. */
  readonly env?: NodeJS.ProcessEnv | undefined
  /**
   * What happens when a child dies (crashes, exits, is killed): it is started again per this policy
   * (default: up to 3 restarts within 10 seconds, backoff from 50 ms to 2 s), or not (`false`). Refs
   * to the dead child's actors fail with PeerDied either way.
   */
  readonly restart?: Supervision.Supervision | false | undefined
  /** Spawn the dead child's actors again on its replacement (same ids, fresh state). Default false. */
  readonly respawn?: boolean | undefined
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
    return Pool.layer(Subprocess, "child", options, (nodeId, href) =>
      startChild({ nodeId, href, execArgv: options.execArgv, env: options.env })
    )
  }
}
