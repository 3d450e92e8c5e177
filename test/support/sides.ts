/**
 * The backends of the cross-node tests ("sides": in-process, worker, child, remote) and the one Layer
 * a test needs for a set of them: its behaviours in-process, the backends serving its host module
 * (the remote one a real `troupe serve` started here), all over one actor system, so that the
 * in-process actors and the backends' links share a router.
 */
import { Effect, Layer, Redacted } from "effect"
import { type Actor, ActorSystem } from "troupe"
import { Remote, Subprocess, Workers } from "troupe/node"
import { serve } from "./serve.ts"

export interface Side {
  readonly name: string
  readonly backend: Actor.BackendKey | undefined
}
export const inProcess: Side = { name: "in-process", backend: undefined }
export const worker: Side = { name: "worker", backend: Workers }
export const child: Side = { name: "child", backend: Subprocess }
export const remote: Side = { name: "remote", backend: Remote }

export const layerForSides = (options: {
  /** The host module the worker, child and remote nodes serve. */
  readonly host: URL
  /** The behaviours provided in-process. */
  readonly behaviours: Layer.Layer<any, any>
  /** The secret of the remote server. */
  readonly secret: string
  readonly sides: ReadonlyArray<Side>
  readonly workers?: number | undefined
  /** Whether the worker pool restarts dead nodes. Default true. */
  readonly restart?: boolean | undefined
}) => {
  const { host, sides } = options
  const layers: Array<Layer.Layer<any, any>> = [options.behaviours]
  if (sides.includes(worker)) {
    layers.push(
      Workers.layer({ host, size: options.workers ?? 1, ...(options.restart === false ? { restart: false } : {}) })
    )
  }
  if (sides.includes(child)) layers.push(Subprocess.layer({ host }))
  if (sides.includes(remote)) {
    layers.push(
      Layer.unwrap(
        Effect.map(serve([], new URL(host).pathname, { TROUPE_SECRET: options.secret }), (served) =>
          Remote.layer({ host: "127.0.0.1", port: served.port, secret: Redacted.make(options.secret) })
        )
      )
    )
  }
  return Layer.mergeAll(...(layers as [Layer.Layer<any, any>])).pipe(Layer.provideMerge(ActorSystem.layer()))
}
