/**
 * Behaviour: how to build an actor of one protocol, registered as a Layer. The Layer provides a service
 * keyed by the protocol's name; spawning on a node looks that service up, so the Layers a node provides
 * are exactly the kinds it can spawn (the allow-list of a worker, child or remote host).
 */
import { Context, Effect, Layer } from "effect"
import type { Protocol } from "./Protocol.ts"

const TypeId = "~troupe/Behaviour" as const

/** The service identifier of the behaviour of protocol P (what `P.toLayer` provides). */
export interface Behaviour<in out P extends Protocol.Any> {
  readonly [TypeId]: P
}

/**
 * A registered behaviour: the per-actor build Effect and the context the Layer captured.
 * @internal
 */
export interface Impl {
  readonly protocol: Protocol.Any
  /** Runs once per spawned actor, with the actor's Scope and ActorContext provided. */
  readonly build: Effect.Effect<object, unknown, never>
  /** The context the behaviour Layer was built in; handlers run with it. */
  readonly context: Context.Context<never>
}

const keys = new Map<string, Context.Key<any, Impl>>()

/** @internal the service key of a protocol's behaviour */
export const key = <P extends Protocol.Any>(protocol: P): Context.Key<Behaviour<P>, Impl> => {
  let k = keys.get(protocol.name)
  if (k === undefined) {
    k = Context.Service<Behaviour<P>, Impl>(`troupe/Behaviour/${protocol.name}`)
    keys.set(protocol.name, k)
  }
  return k
}

/** @internal the key prefix that marks behaviours in a context */
export const keyPrefix = "troupe/Behaviour/"

/** @internal implementation of `Protocol.toLayer` */
export const toLayer = <P extends Protocol.Any>(
  protocol: P,
  build: Effect.Effect<object, unknown, any> | (() => object)
): Layer.Layer<Behaviour<P>, never, any> =>
  Layer.effect(
    key(protocol),
    Effect.map(Effect.context<never>(), (context): Impl => ({
      protocol,
      build: Effect.isEffect(build) ? (build as Effect.Effect<object, unknown, never>) : Effect.sync(build),
      context
    }))
  )
