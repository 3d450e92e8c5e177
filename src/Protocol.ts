/**
 * Protocol: an actor's interface declared once, as data. Each method names its payload, success, error
 * and kind (call, cast or stream) as Schemas; client and handler types are inferred from them. A
 * protocol is also the service key of its ActorRef (`yield* Calculator`), and it builds behaviour
 * Layers (`Calculator.toLayer(...)`) and service Layers (`Calculator.layer({ id })`).
 */
import { Context, Effect, Layer, Predicate, Schema, type Scope, type Stream } from "effect"
import type { ActorContext } from "./ActorContext.ts"
import type { ActorError } from "./ActorError.ts"
import type { ActorRef } from "./ActorRef.ts"
import type { Backend } from "./Backend.ts"
import * as Behaviour from "./Behaviour.ts"
import * as ActorSystem from "./ActorSystem.ts"
import * as Address from "./internal/address.ts"
import type { MailboxOptions } from "./Mailbox.ts"
import type { Supervision } from "./Supervision.ts"

const TypeId = "~troupe/Protocol" as const

/** A payload is a Schema, or the fields of a struct (`{ a: Schema.Number }`). */
export type PayloadSpec = Schema.Top | Schema.Struct.Fields

/**
 * How one method is declared. A method is a call by default; `cast: true` makes it fire-and-forget;
 * `stream: Schema` makes its reply a Stream of that Schema. `concurrent: true` lets the actor handle
 * this method's messages without waiting for the previous one to finish.
 */
export interface MethodSpec {
  readonly payload?: PayloadSpec
  readonly success?: Schema.Top
  readonly error?: Schema.Top
  readonly stream?: Schema.Top
  readonly cast?: boolean
  readonly concurrent?: boolean
}

/** The methods of a protocol, by name. */
export type Methods = { readonly [name: string]: MethodSpec }

/** The kind of a method: request/reply, fire-and-forget, or a reply Stream. */
export type Kind = "call" | "cast" | "stream"

/** A method as the runtime sees it: every Schema resolved. */
export interface Method {
  readonly name: string
  readonly kind: Kind
  readonly payload: Schema.Top
  /** The success Schema of a call, or the element Schema of a stream. */
  readonly success: Schema.Top
  readonly error: Schema.Top
  readonly concurrent: boolean
  /** True when the payload was given as struct fields or omitted, so the client passes a plain object. */
  readonly hasPayload: boolean
}

/** @internal */
export type PayloadSchema<S> = S extends { readonly payload: infer P }
  ? P extends Schema.Top
    ? P
    : P extends Schema.Struct.Fields
      ? Schema.Struct<P>
      : never
  : Schema.Void

/** The payload type of a method declaration. */
export type Payload<S> = PayloadSchema<S>["Type"]

/** The success type of a call. */
export type Success<S> = S extends { readonly success: infer A extends Schema.Top } ? A["Type"] : void

/** The declared error type of a method (never when it declares none). */
export type Failure<S> = S extends { readonly error: infer E extends Schema.Top } ? E["Type"] : never

/** The element type of a stream method. */
export type Element<S> = S extends { readonly stream: infer A extends Schema.Top } ? A["Type"] : never

/** The kind of a method declaration, as a type. */
export type KindOf<S> = S extends { readonly stream: Schema.Top }
  ? "stream"
  : S extends { readonly cast: true }
    ? "cast"
    : "call"

type PayloadArgs<S> = S extends { readonly payload: any } ? [payload: Payload<S>] : []

/** The client side of one method, as it appears on an ActorRef. */
export type ClientMethod<S> =
  KindOf<S> extends "stream"
    ? (...args: PayloadArgs<S>) => Stream.Stream<Element<S>, Failure<S> | ActorError>
    : KindOf<S> extends "cast"
      ? (...args: PayloadArgs<S>) => Effect.Effect<void, ActorError>
      : (...args: PayloadArgs<S>) => Effect.Effect<Success<S>, Failure<S> | ActorError>

/** The client of a protocol's methods. */
export type Client<M extends Methods> = { readonly [K in keyof M]: ClientMethod<M[K]> }

/**
 * The handler of one method. It may return an Effect, a plain value, or a Promise, so that a plain
 * class can serve as a behaviour. A stream handler returns a Stream, an AsyncIterable or an Iterable.
 * Besides the declared error, a handler may fail with ActorError: a failed call to another actor
 * reaches the caller as it is.
 */
export type Handler<S> =
  KindOf<S> extends "stream"
    ? (
        payload: Payload<S>
      ) => Stream.Stream<Element<S>, Failure<S> | ActorError, any> | AsyncIterable<Element<S>> | Iterable<Element<S>>
    : KindOf<S> extends "cast"
      ? (payload: Payload<S>) => Effect.Effect<unknown, Failure<S> | ActorError, any> | void | PromiseLike<unknown>
      : (
          payload: Payload<S>
        ) => Effect.Effect<Success<S>, Failure<S> | ActorError, any> | Success<S> | PromiseLike<Success<S>>

/** Handlers for every method of a protocol. */
export type Handlers<M extends Methods> = { readonly [K in keyof M]: Handler<M[K]> }

/** The services that a set of handlers needs, read off their return types. */
export type HandlersContext<H> = {
  [K in keyof H]: H[K] extends (...args: any) => infer R
    ? R extends Effect.Effect<any, any, infer X>
      ? X
      : R extends Stream.Stream<any, any, infer X>
        ? X
        : never
    : never
}[keyof H]

/**
 * Options of a service Layer built from a protocol: those of a spawn, but no `idleTimeout` (the Layer
 * provides one ref for its whole lifetime; an actor that passivated would leave it pointing at nothing).
 */
export interface LayerOptions {
  readonly id: string
  readonly backend?: Context.Key<any, Backend> | undefined
  readonly mailbox?: MailboxOptions | undefined
  /** What the actor does when a handler dies (`Supervision.restart(...)` keeps the service's ref alive). */
  readonly supervision?: Supervision | undefined
}

/** The service identifier under which a protocol's ActorRef is provided (`yield* Calculator` needs it). */
export interface RefService<Name extends string> {
  readonly [RefServiceId]: Name
}
declare const RefServiceId: unique symbol

/**
 * An actor protocol. It is the service key of its ActorRef: `const calc = yield* Calculator`.
 */
export interface Protocol<Name extends string, M extends Methods> extends Context.Key<
  RefService<Name>,
  ActorRef.Of<Name, M>
> {
  readonly [TypeId]: typeof TypeId
  readonly name: Name
  readonly methods: M
  /** The normalized methods, by name. */
  readonly methodMap: ReadonlyMap<string, Method>

  /** Identity at runtime; gives contextual types to a handlers object. */
  of<const H extends Handlers<M>>(handlers: H): H

  /**
   * The behaviour Layer: registers how to build this actor on whichever node provides the Layer.
   * `build` runs once per spawned actor (fresh state); it may use `Scope` (released when the actor
   * stops) and `ActorContext`. It may return handlers or a plain class instance; a function returning
   * an instance also works.
   */
  toLayer<H extends Handlers<M>, E = never, R = never>(
    build: Effect.Effect<H, E, R> | (() => H)
  ): Layer.Layer<
    Behaviour.Behaviour<Protocol<Name, M>>,
    never,
    Exclude<R | HandlersContext<H>, Scope.Scope | ActorContext>
  >

  /**
   * A Layer that spawns the actor and provides its ref as this protocol's service; the actor stops
   * when the Layer is released. Moving the actor to another backend is a change of this Layer only.
   */
  layer<B extends Context.Key<any, Backend> | undefined = undefined>(
    options: LayerOptions & { readonly backend?: B }
  ): Layer.Layer<
    RefService<Name>,
    ActorError,
    B extends Context.Key<infer I, Backend> ? I : Behaviour.Behaviour<Protocol<Name, M>>
  >

  /** Inside a handler: the actor's own ref. */
  readonly self: Effect.Effect<ActorRef<Protocol<Name, M>>, never, ActorContext>

  /**
   * The Schema of refs to this protocol's actors, to pass them inside payloads, replies and channel
   * messages. A ref that travelled reaches its actor from any node that has a route to the actor's
   * node (through the nodes in between, if need be).
   *
   * @example
   * ```ts
   * const Worker = Actor.make("Worker", { start: { payload: { reportTo: Collector.Ref } } })
   * yield* worker.start({ reportTo: collector })
   * ```
   */
  readonly Ref: Schema.Codec<ActorRef<Protocol<Name, M>>, RefEncoded<Name>>
}

/** The wire form of a ref: the node that runs the actor, its id and incarnation, the protocol's name. */
export interface RefEncoded<Name extends string = string> {
  readonly node: string
  readonly id: string
  readonly incarnation: number
  readonly protocol: Name
}

/** Type-level helpers. */
export declare namespace Protocol {
  /** Any protocol. */
  export type Any = Protocol<any, any>
}

/** True for a protocol. */
export const isProtocol = (u: unknown): u is Protocol.Any => Predicate.hasProperty(u, TypeId)

const reserved = new Set(["id", "protocol", "pipe", "toJSON", "toString", "constructor", "then"])

const normalize = (name: string, spec: MethodSpec): Method => {
  if (reserved.has(name)) {
    throw new Error(`troupe: "${name}" cannot be a method name (reserved on ActorRef)`)
  }
  const kind: Kind = spec.stream !== undefined ? "stream" : spec.cast === true ? "cast" : "call"
  if (kind === "cast" && spec.success !== undefined) {
    throw new Error(`troupe: cast method "${name}" cannot declare a success Schema`)
  }
  if (kind === "stream" && spec.success !== undefined) {
    throw new Error(`troupe: stream method "${name}" declares its elements with "stream", not "success"`)
  }
  const payload =
    spec.payload === undefined
      ? Schema.Void
      : Schema.isSchema(spec.payload)
        ? spec.payload
        : Schema.Struct(spec.payload as Schema.Struct.Fields)
  return {
    name,
    kind,
    payload,
    success: kind === "stream" ? spec.stream! : (spec.success ?? Schema.Void),
    error: spec.error ?? Schema.Never,
    concurrent: spec.concurrent === true,
    hasPayload: spec.payload !== undefined
  }
}

/**
 * Declares an actor protocol.
 *
 * @example
 * ```ts
 * class DivideByZero extends Schema.TaggedError<DivideByZero>()("DivideByZero", { dividend: Schema.Number }) {}
 * const Calculator = Actor.make("Calculator", {
 *   add: { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number },
 *   divide: { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number, error: DivideByZero },
 *   countdown: { payload: { from: Schema.Number }, stream: Schema.Number },
 *   reset: { cast: true }
 * })
 * ```
 */
export const make = <const Name extends string, const M extends Methods>(name: Name, methods: M): Protocol<Name, M> => {
  const methodMap = new Map<string, Method>()
  for (const key of Object.keys(methods)) methodMap.set(key, normalize(key, methods[key]!))
  const protocol = Context.Service<RefService<Name>, ActorRef<Protocol<Name, M>>>(`troupe/Actor/${name}`) as any
  protocol[TypeId] = TypeId
  // the key is a function, whose own `name` is read-only: define it instead of assigning
  Object.defineProperty(protocol, "name", { value: name })
  protocol.methods = methods
  protocol.methodMap = methodMap
  protocol.of = (handlers: unknown) => handlers
  protocol.toLayer = (build: any) => Behaviour.toLayer(protocol, build)
  protocol.layer = ({ id, backend, mailbox, supervision }: LayerOptions) =>
    Layer.effect(protocol, ActorSystem.spawnScopedWith(protocol, { id, backend, mailbox, supervision }))
  protocol.self = ActorSystem.selfRef
  let ref: Schema.Top | undefined
  // built on first use: most protocols never travel
  Object.defineProperty(protocol, "Ref", { get: () => (ref ??= Address.schema(protocol)) })
  return protocol
}
