/**
 * ActorRef: the typed handle to an actor, the same type whatever backend runs it. Each protocol method
 * becomes a function on the ref (`ref.add({ a, b })`) that delegates to an Endpoint; the in-process
 * backend's endpoint is the actor's mailbox, the wire backends' endpoint is a link to another node.
 */
import { Predicate, type Effect, type Stream } from "effect"
import type { ActorError } from "./ActorError.ts"
import type { Client, Method, Methods, Protocol } from "./Protocol.ts"
import type { Termination } from "./Termination.ts"

const TypeId = "~troupe/ActorRef" as const
const EndpointKey: unique symbol = Symbol.for("troupe/ActorRef/endpoint") as any

/**
 * What a ref delegates to. One implementation per kind of location (in-process mailbox, wire link).
 * @internal
 */
export interface Endpoint {
  readonly id: string
  readonly protocol: Protocol.Any
  /** Where the actor lives: "local" or a node id. */
  readonly location: string
  /** The node and incarnation a ref carries when it travels inside a message; none for a ref that cannot. */
  readonly address: Address | undefined
  call(method: Method, payload: unknown): Effect.Effect<unknown, unknown>
  cast(method: Method, payload: unknown): Effect.Effect<void, ActorError>
  stream(method: Method, payload: unknown): Stream.Stream<unknown, unknown>
  /** Graceful stop: queued messages are handled first; completes when the actor has terminated. */
  readonly stop: Effect.Effect<void, ActorError>
  /** Kill: queued messages fail; completes when the actor has terminated. */
  readonly kill: Effect.Effect<void, ActorError>
  /** Completes once, when the actor has terminated (at once if it already has), with how. */
  readonly watch: Effect.Effect<Termination>
}

/**
 * Where a ref points, beyond its id: the node that runs the actor and the incarnation it names (a ref
 * to a stopped actor never reaches a later actor spawned under the same id).
 * @internal
 */
export interface Address {
  readonly node: string
  readonly incarnation: number
}

/**
 * A typed ref to an actor speaking protocol P. Its methods are those of the protocol.
 *
 * @example
 * ```ts
 * const calc: ActorRef<typeof Calculator> = yield* Actor.spawn(Calculator, { id: "calc" })
 * const three = yield* calc.add({ a: 1, b: 2 })
 * ```
 */
export type ActorRef<P extends Protocol.Any> = ActorRef.Of<P["name"], P["methods"]>

/** @see ActorRef */
export declare namespace ActorRef {
  /** The fields every ref has besides the protocol's methods. */
  export interface Base<Name extends string, M extends Methods> {
    readonly [TypeId]: typeof TypeId
    /** The actor's id, unique on its node. */
    readonly id: string
    readonly protocol: Protocol<Name, M>
  }
  /** A ref by protocol name and methods (what `ActorRef<P>` expands to). */
  export type Of<Name extends string, M extends Methods> = Base<Name, M> & Client<M>
}

/** True for an ActorRef. */
export const isActorRef = (u: unknown): u is ActorRef<Protocol.Any> => Predicate.hasProperty(u, TypeId)

/**
 * Where the actor lives: "local", or the id of the node that runs it ("worker-1.0", "child-2.1", ...).
 *
 * @example
 * ```ts
 * console.log(ActorRef.location(calc)) // "worker-1.0"
 * ```
 */
export const location = (ref: ActorRef<any>): string => endpoint(ref).location

/** @internal */
export const endpoint = (ref: ActorRef<any>): Endpoint => (ref as any)[EndpointKey]

const prototypes = new WeakMap<Protocol.Any, object>()

/**
 * One prototype per protocol: each method is a getter returning a function bound to the ref, so a ref
 * is a single small object (idle actors stay cheap) and `const { add } = ref` still works.
 */
const prototypeOf = (protocol: Protocol.Any): object => {
  const cached = prototypes.get(protocol)
  if (cached !== undefined) return cached
  const proto: object = Object.create(RefProto)
  for (const method of (protocol.methodMap as ReadonlyMap<string, Method>).values()) {
    const get =
      method.kind === "call"
        ? function (this: any) {
            const ep: Endpoint = this[EndpointKey]
            return (payload: unknown) => ep.call(method, payload)
          }
        : method.kind === "cast"
          ? function (this: any) {
              const ep: Endpoint = this[EndpointKey]
              return (payload: unknown) => ep.cast(method, payload)
            }
          : function (this: any) {
              const ep: Endpoint = this[EndpointKey]
              return (payload: unknown) => ep.stream(method, payload)
            }
    Object.defineProperty(proto, method.name, { get, enumerable: true })
  }
  prototypes.set(protocol, proto)
  return proto
}

const RefProto = {
  [TypeId]: TypeId,
  get id(): string {
    return (this as any)[EndpointKey].id
  },
  get protocol(): Protocol.Any {
    return (this as any)[EndpointKey].protocol
  },
  toString(this: any): string {
    const ep: Endpoint = this[EndpointKey]
    return `ActorRef(${ep.protocol.name}:${ep.id}@${ep.location})`
  },
  toJSON(this: any): unknown {
    const ep: Endpoint = this[EndpointKey]
    return { _id: "ActorRef", protocol: ep.protocol.name, id: ep.id, location: ep.location }
  }
}

/**
 * Builds a ref over an endpoint.
 * @internal
 */
export const make = <P extends Protocol.Any>(ep: Endpoint): ActorRef<P> => {
  const ref = Object.create(prototypeOf(ep.protocol))
  ref[EndpointKey] = ep
  return ref
}
