/**
 * The node side of a host module: import it, build the behaviour Layers it exports, and serve them to
 * the parent over a link. The behaviours found in the built context are the allow-list: only those
 * kinds can be spawned on this node.
 */
import { Context, Deferred, Effect, Exit, Layer, type Scope } from "effect"
import * as ActorError from "../../ActorError.ts"
import { ActorSystem, configureDefault } from "../../ActorSystem.ts"
import * as Behaviour from "../../Behaviour.ts"
import { Link, type Transport } from "../../internal/wire/link.ts"
import { batchLimit } from "./pool.ts"

/** What a loaded host module provides. */
export interface LoadedHost {
  readonly context: Context.Context<never>
  readonly behaviours: ReadonlyMap<string, Behaviour.Impl>
}

/** Imports a host module and builds every Layer it exports; fails with a readable message. */
export const loadHost = (href: string): Effect.Effect<LoadedHost, string, Scope.Scope> =>
  Effect.gen(function* () {
    const mod = yield* Effect.tryPromise({
      try: () => import(href) as Promise<Record<string, unknown>>,
      catch: (e) => `cannot import ${href}: ${e instanceof Error ? e.message : String(e)}`
    })
    const layers = Object.values(mod).filter(Layer.isLayer) as Array<Layer.Layer<unknown, unknown, never>>
    if (layers.length === 0) return yield* Effect.fail(`${href} exports no Layer`)
    const context = yield* Layer.build(Layer.mergeAll(...(layers as [Layer.Layer<unknown, unknown, never>]))).pipe(
      Effect.mapError((e) => `building the Layers of ${href} failed: ${String(e)}`),
      Effect.catchDefect((d) => Effect.fail(`building the Layers of ${href} died: ${String(d)}`))
    )
    const behaviours = new Map<string, Behaviour.Impl>()
    for (const [key, value] of (context as Context.Context<never>).mapUnsafe) {
      if (key.startsWith(Behaviour.keyPrefix)) {
        const impl = value as Behaviour.Impl
        behaviours.set(impl.protocol.name, impl)
      }
    }
    if (behaviours.size === 0) return yield* Effect.fail(`${href} exports no behaviour Layer (Protocol.toLayer)`)
    return { context: context as Context.Context<never>, behaviours }
  })

/**
 * Serves this node to its parent: loads the host module, then answers frames until the link closes
 * (the parent says BYE, breaks the protocol, or goes away). When the host cannot load, the parent is
 * told why (HostFailed) instead of a handshake. Actors then get a moment to stop gracefully.
 */
export const serveParent = (options: {
  readonly nodeId: string
  readonly href: string
  readonly transport: Transport
  /**
   * Starts feeding incoming batches to `receive`; `closed` is called if the channel ends; `paced` as in
   * NodeHandle.listen (pool.ts).
   */
  readonly listen: (
    receive: (bytes: Uint8Array) => void,
    closed: (why: string) => void,
    paced: (shared: boolean) => void
  ) => void
}): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    configureDefault({ nodeId: options.nodeId })
    const system = yield* ActorSystem
    const loaded = yield* Effect.exit(loadHost(options.href))
    const context = Exit.isSuccess(loaded) ? loaded.value.context : Context.empty()
    const closed = Deferred.makeUnsafe<void>()
    const link = new Link(options.transport, {
      peerLabel: "parent",
      host: {
        system,
        behaviours: Exit.isSuccess(loaded) ? loaded.value.behaviours : new Map(),
        context: Context.add(context, ActorSystem, system)
      },
      batchLimit: batchLimit(),
      // the parent started this node: its inspector may look inside
      inspectable: true,
      // with its only link closed, the node has no reason to live
      onClose: () => Deferred.doneUnsafe(closed, Exit.void)
    })
    options.listen(
      (bytes) => link.receive(bytes),
      (why) =>
        link.fail(
          ActorError.make(new ActorError.PeerDied({ node: "parent", message: `the parent went away: ${why}` }))
        ),
      (shared) => link.sharesCpu(shared)
    )
    if (Exit.isSuccess(loaded)) link.start()
    else {
      const failure = loaded.cause.reasons.find((r) => r._tag === "Fail")
      const message = failure !== undefined && failure._tag === "Fail" ? failure.error : "the host module failed"
      link.failWith(
        `host failed: ${message}`,
        ActorError.make(new ActorError.HostFailed({ node: options.nodeId, message }))
      )
    }
    yield* Deferred.await(closed)
    yield* system.shutdown.pipe(Effect.timeoutOrElse({ duration: "2 seconds", orElse: () => Effect.void }))
  }).pipe(Effect.catchCause(() => Effect.void))
