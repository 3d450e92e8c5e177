/**
 * Workers: the worker-thread backend. Actors spawned with `backend: Workers` run in a pool of worker
 * threads that load the host module; calls travel as CBOR batches over postMessage (transferred, not
 * cloned). The host module's exported behaviour Layers are the only kinds that can be spawned there.
 */
import { Context, type Layer } from "effect"
import type * as ActorError from "../ActorError.ts"
import { startWorker } from "./internal/handles.ts"
import * as Pool from "./internal/pool.ts"
import type * as Supervision from "../Supervision.ts"

/** Options of the worker-thread backend. */
export interface Options {
  /** The host module: its exported behaviour Layers are what can be spawned in the workers. */
  readonly host: URL | string
  /** Number of worker threads. Default 1. Actor ids are spread over them by hash. */
  readonly size?: number | undefined
  /** How long a worker may take to load the host module, in ms. Default 30 000. */
  readonly startTimeout?: number | undefined
  /** How long a worker may take to stop its actors when the Layer is released, in ms. Default 3 000. */
  readonly stopTimeout?: number | undefined
  /**
   * Microseconds each side polls for the next message after handling one, instead of sleeping, when
   * the machine has more than one CPU. Default 50; 0 turns it off (lower CPU use, higher latency).
   */
  readonly spin?: number | undefined
  /** Extra `execArgv` for the workers (they inherit the parent's, so `tsx` keeps working). */
  readonly execArgv?: ReadonlyArray<string> | undefined
  /**
   * What happens when a worker dies (crashes, exits, is killed): it is started again per this policy
   * (default: up to 3 restarts within 10 seconds, backoff from 50 ms to 2 s), or not (`false`). Refs
   * to the dead worker's actors fail with PeerDied either way.
   */
  readonly restart?: Supervision.Supervision | false | undefined
  /** Spawn the dead worker's actors again on its replacement (same ids, fresh state). Default false. */
  readonly respawn?: boolean | undefined
  /** @internal wire version to announce (tests) */
  readonly wireVersion?: number | undefined
}

/**
 * The worker-thread backend's service key.
 *
 * @example
 * ```ts
 * const calc = yield* Actor.spawn(Calculator, { id: "calc", backend: Workers })
 * // provided by
 * Workers.layer({ host: new URL("./actors.ts", import.meta.url), size: 2 })
 * ```
 */
export class Workers extends Context.Service<Workers, Pool.PoolBackend>()("troupe/node/Workers") {
  /** A pool of worker threads serving the host module; closing the Layer's scope terminates them. */
  static layer(options: Options): Layer.Layer<Workers, ActorError.ActorError> {
    return Pool.layer(Workers, "worker", options, (nodeId, href) =>
      startWorker({ nodeId, href, execArgv: options.execArgv, spin: options.spin ?? 50 })
    )
  }
}
