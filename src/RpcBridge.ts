/**
 * RpcBridge: a protocol as an effect/rpc `RpcGroup`, and an actor as that group's handlers, so that an
 * actor on any backend can be served with effect/rpc (HTTP, WebSocket, sockets, workers) to programs
 * that do not run Troupe. Each method becomes one rpc with the same Schemas; a declared error and
 * ActorError both reach the rpc client typed.
 */
import { Effect, type Layer, Schema, type Scope } from "effect"
import { Rpc, RpcGroup, type RpcSchema } from "effect/rpc"
import { ActorError } from "./ActorError.ts"
import type { ActorRef } from "./ActorRef.ts"
import type { KindOf, Method, Methods, PayloadSchema, Protocol } from "./Protocol.ts"

/** The error Schema of a method's rpc: its declared error, if any, and ActorError. */
export type ErrorSchema<S> = S extends { readonly error: infer E extends Schema.Top }
  ? Schema.Union<readonly [E, typeof ActorError]>
  : typeof ActorError

/** The rpc of one method: a call or a cast answers its success (void for a cast), a stream streams. */
export type RpcOf<Tag extends string, S> =
  KindOf<S> extends "stream"
    ? Rpc.Rpc<
        Tag,
        PayloadSchema<S>,
        RpcSchema.Stream<S extends { readonly stream: infer A extends Schema.Top } ? A : never, ErrorSchema<S>>,
        typeof Schema.Never
      >
    : Rpc.Rpc<
        Tag,
        PayloadSchema<S>,
        KindOf<S> extends "cast"
          ? typeof Schema.Void
          : S extends { readonly success: infer A extends Schema.Top }
            ? A
            : typeof Schema.Void,
        ErrorSchema<S>
      >

/** The rpcs of a protocol's methods. */
export type Rpcs<M extends Methods> = { [K in keyof M & string]: RpcOf<K, M[K]> }[keyof M & string]

const groups = new WeakMap<Protocol.Any, RpcGroup.RpcGroup<any>>()

const errorOf = (method: Method): Schema.Top =>
  method.error === Schema.Never ? ActorError : Schema.Union([method.error, ActorError])

/**
 * The protocol as an effect/rpc group: one rpc per method, named after it, with its payload, success
 * (or stream element) and error Schemas; ActorError is part of every rpc's error.
 *
 * @example
 * ```ts
 * const CalculatorRpcs = RpcBridge.toRpcGroup(Calculator)
 * const client = yield* RpcClient.make(CalculatorRpcs) // client.add({ a: 1, b: 2 })
 * ```
 */
export const toRpcGroup = <P extends Protocol.Any>(protocol: P): RpcGroup.RpcGroup<Rpcs<P["methods"]>> => {
  let group = groups.get(protocol)
  if (group === undefined) {
    const rpcs = Array.from((protocol.methodMap as ReadonlyMap<string, Method>).values(), (method) =>
      Rpc.make(method.name, {
        payload: method.payload,
        success: method.kind === "cast" ? Schema.Void : method.success,
        error: errorOf(method),
        stream: method.kind === "stream"
      })
    )
    group = RpcGroup.make(...rpcs)
    groups.set(protocol, group)
  }
  return group as RpcGroup.RpcGroup<Rpcs<P["methods"]>>
}

/**
 * The handlers of the protocol's rpc group, each forwarding to the actor that `ref` gives (on any
 * backend): provide it to `RpcServer.layer(toRpcGroup(P))`. A cast rpc answers once the cast is
 * enqueued; a stream rpc streams the actor's stream, and the client leaving it stops the actor's side.
 *
 * @example
 * ```ts
 * RpcServer.layer(RpcBridge.toRpcGroup(Calculator)).pipe(
 *   Layer.provide(RpcBridge.layerHandlers(Calculator, Actor.spawn(Calculator, { id: "calc", backend: Workers })))
 * )
 * ```
 */
export const layerHandlers = <P extends Protocol.Any, E, R>(
  protocol: P,
  ref: Effect.Effect<ActorRef<P>, E, R>
): Layer.Layer<Rpc.ToHandler<Rpcs<P["methods"]>>, E, Exclude<R, Scope.Scope>> =>
  (toRpcGroup(protocol) as RpcGroup.RpcGroup<any>).toLayer(
    Effect.map(ref, (actor) => {
      // the ref's methods are the handlers: each takes the payload (and ignores the rpc's options)
      const handlers: Record<string, unknown> = {}
      for (const name of (protocol.methodMap as ReadonlyMap<string, Method>).keys()) {
        handlers[name] = (actor as unknown as Record<string, unknown>)[name]
      }
      return handlers
    }) as Effect.Effect<Record<string, (request: any) => any>>
  ) as any
