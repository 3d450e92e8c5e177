/**
 * Cluster: a protocol hosted as an `effect/cluster` Entity, for programs that outgrow point-to-point
 * sockets. The protocol becomes the entity's rpc group (through `troupe/rpc`), its existing behaviour
 * becomes the entity's handlers, and Effect's own cluster places entities on runners, routes messages
 * to them and passivates idle ones. docs/cluster.md says what carries over from Troupe and what does not.
 */
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit, type Layer, Option, Scope, Stream } from "effect"
import { ClusterError, Entity, type Sharding } from "effect/cluster"
import { Rpc } from "effect/rpc"
import { ActorContext } from "./ActorContext.ts"
import * as ActorError from "./ActorError.ts"
import * as ActorRef from "./ActorRef.ts"
import * as Behaviour from "./Behaviour.ts"
import type { Method, Protocol } from "./Protocol.ts"
import { type Rpcs, toRpcGroup } from "./RpcBridge.ts"
import type { Termination } from "./Termination.ts"
import { effectOf, streamOf } from "./internal/handler.ts"

/**
 * The entity that hosts protocol P: its type is the protocol's name, its rpcs the protocol's methods.
 *
 * @example
 * ```ts
 * const CalculatorEntity: Cluster.EntityOf<typeof Calculator> = Cluster.toEntity(Calculator)
 * ```
 */
export type EntityOf<P extends Protocol.Any> = Entity.Entity<P["name"], Rpcs<P["methods"]>>

const entities = new WeakMap<Protocol.Any, Entity.Any>()

/**
 * The protocol as a cluster Entity (`Entity.fromRpcGroup` over `RpcBridge.toRpcGroup`), one per
 * protocol. Its client is typed from the protocol's Schemas; a call fails with the declared error,
 * ActorError, or one of the cluster's own errors (MailboxFull, EntityNotAssignedToRunner, ...).
 *
 * @example
 * ```ts
 * const CalculatorEntity = Cluster.toEntity(Calculator)
 * const calc = (yield* CalculatorEntity.client)("calc-1")
 * const three = yield* calc.add({ a: 1, b: 2 })
 * ```
 */
export const toEntity = <P extends Protocol.Any>(protocol: P): EntityOf<P> => {
  let entity = entities.get(protocol)
  if (entity === undefined) {
    entity = Entity.fromRpcGroup(protocol.name, toRpcGroup(protocol) as any)
    entities.set(protocol, entity)
  }
  return entity as unknown as EntityOf<P>
}

/**
 * The options of `toLayer`, passed to `Entity.toLayer` as they are. Its defect options are left out:
 * a handler's defect is answered as an ActorError, so the cluster never sees one to restart on.
 *
 * @example
 * ```ts
 * Cluster.toLayer(Calculator, { maxIdleTime: "10 minutes", mailboxCapacity: 1000 })
 * ```
 */
export interface LayerOptions {
  /** How long an entity may stay idle before the cluster passivates it (its Scope closes). */
  readonly maxIdleTime?: Duration.Input | undefined
  /**
   * How many messages one entity handles at a time; 1 (the default) is the actor rule. Methods
   * declared `concurrent`, and streams, do not count against it.
   */
  readonly concurrency?: number | "unbounded" | undefined
  /** How many messages may wait for one entity; past it, senders get MailboxFull. */
  readonly mailboxCapacity?: number | "unbounded" | undefined
  readonly mailboxMetrics?: boolean | undefined
  readonly spanAttributes?: Record<string, string> | undefined
  /**
   * After the behaviour failed to build for an id (messages then answer SpawnFailed), how long until a
   * message tries to build it again. Default 1 second.
   */
  readonly rebuildAfter?: Duration.Input | undefined
}

/**
 * Hosts the protocol's Troupe behaviour (what `P.toLayer(...)` provides) as the handlers of its
 * entity. Each entity id gets its own instance: the behaviour's build runs when the first message activates
 * the id, with the entity's Scope (released on passivation and shutdown) and an ActorContext whose
 * `id` is the entity id. Handlers may return Effects, Promises or plain values (a plain class works);
 * a throw, a rejected Promise or a die reaches the caller as ActorError Defect, and the entity goes on.
 * Methods declared `concurrent`, and streams, run beside the entity's one-at-a-time messages, as they
 * do in Troupe.
 *
 * @example
 * ```ts
 * const CalculatorEntityLive = Cluster.toLayer(Calculator, { maxIdleTime: "5 minutes" }).pipe(
 *   Layer.provide(CalculatorLive),          // the behaviour, unchanged
 *   Layer.provideMerge(TestRunner.layer)    // or NodeClusterSocket.layer(...) for real runners
 * )
 * ```
 */
export const toLayer = <P extends Protocol.Any>(
  protocol: P,
  options?: LayerOptions
): Layer.Layer<never, never, Behaviour.Behaviour<P> | Sharding.Sharding> => {
  const entity = toEntity(protocol) as unknown as Entity.Any
  const { rebuildAfter: rebuildInput, ...entityOptions } = options ?? {}
  const rebuildAfter = Duration.toMillis(Duration.fromInputUnsafe(rebuildInput ?? "1 second"))
  const build = Effect.gen(function* () {
    const behaviour = yield* Behaviour.key(protocol)
    const address = yield* Entity.CurrentAddress
    const scope = yield* Scope.Scope
    const id: string = address.entityId
    const actorContext = ActorContext.of({ id, protocol, self: yield* ref(protocol, id), stop: stopUnsupported(id) })
    const context = behaviour.context.pipe(Context.add(ActorContext, actorContext), Context.add(Scope.Scope, scope))
    // built by the first message (the one that activated the entity), which waits for it
    const instance = new Instance(protocol, id, behaviour.build, context as Context.Context<Scope.Scope>, rebuildAfter)
    return handlersOf(protocol, id, instance, context)
  })
  return entity.toLayer(build as Effect.Effect<any, never, any>, entityOptions) as any
}

/**
 * An ActorRef to entity `id` of protocol P, through the cluster: the same typed methods as any other
 * ref. A cast is sent without waiting for its handler. The cluster's own errors become ActorErrors:
 * MailboxFull as MailboxFull (capacity -1: the limit is the runner's, unknown to the caller), any
 * other as Unreachable. Cluster entities are passivated by the cluster, not stopped: `Actor.stop`,
 * `Actor.kill` fail and `Actor.watch` dies on such a ref. It cannot travel inside a Troupe message
 * (send the entity id instead).
 *
 * @example
 * ```ts
 * const calc = yield* Cluster.ref(Calculator, "calc-1")
 * const three = yield* calc.add({ a: 1, b: 2 }) // Effect<number, ActorError>
 * ```
 */
export const ref = <P extends Protocol.Any>(
  protocol: P,
  id: string
): Effect.Effect<ActorRef.ActorRef<P>, never, Sharding.Sharding> =>
  Effect.map(toEntity(protocol).client as Effect.Effect<(id: string) => any, never, Sharding.Sharding>, (client) =>
    ActorRef.make<P>(new EntityEndpoint(protocol, id, client(id)))
  )

const unsupported = (what: string): string =>
  `troupe/cluster: ${what} is not available on an effect/cluster entity; the cluster passivates entities ` +
  `itself (maxIdleTime), and the next message to the id activates it again`

// A die, not a no-op: a behaviour that stops itself means to drop its state, which a silent no-op would keep.
const stopUnsupported = (id: string): Effect.Effect<void> =>
  Effect.die(new Error(unsupported(`ActorContext.stop (entity "${id}")`)))

/** As the actor cell does: a handler's failure is its declared error, or an ActorError the rpc can encode. */
const toFailure = (id: string, method: string) => (cause: Cause.Cause<unknown>) =>
  // an interrupt is the caller leaving (or the runner shutting down): the cluster handles it
  Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.fail(ActorError.fromCause(id, method, cause))

type Impl = Record<string, (payload: unknown) => unknown>

/**
 * The behaviour of one entity id, built when a message first needs it. Messages that come meanwhile
 * wait for the same build, and a caller that leaves does not stop it (nor leave its resources behind).
 * A build that failed (a database down at the time) is tried again by a later message, at most once
 * per `rebuildAfter` (default a second), in a scope of its own that its failure closes; meanwhile
 * messages answer SpawnFailed. Were the failure kept until the cluster passivates the entity, a busy id
 * would never get past it: passivation waits for `maxIdleTime` without messages.
 */
class Instance {
  /** The built behaviour, once a build has succeeded. */
  impl: Impl | undefined = undefined
  private failure: { readonly error: ActorError.ActorError; readonly at: number } | undefined = undefined
  /** The build in progress: callers wait for it, and leaving does not stop it (or leak its scope). */
  private building: Deferred.Deferred<Impl, ActorError.ActorError> | undefined = undefined
  readonly resolve: Effect.Effect<Impl, ActorError.ActorError>
  constructor(
    protocol: Protocol.Any,
    id: string,
    build: Effect.Effect<object, unknown>,
    context: Context.Context<Scope.Scope>,
    rebuildAfter: number
  ) {
    const scope = Context.get(context, Scope.Scope)
    // in a scope of its own, which a failure (or the entity's end mid-build) closes
    const attempt: Effect.Effect<Impl, ActorError.ActorError> = Effect.flatMap(Scope.fork(scope), (own) =>
      Effect.provideContext(build, Context.add(context, Scope.Scope, own)).pipe(
        Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Scope.close(own, exit))),
        Effect.catchCause((cause) =>
          Effect.fail(
            ActorError.make(
              new ActorError.SpawnFailed({ actorId: id, protocol: protocol.name, message: Cause.pretty(cause) })
            )
          )
        ),
        Effect.map((built) => built as Impl)
      )
    )
    const settle =
      (deferred: Deferred.Deferred<Impl, ActorError.ActorError>) => (exit: Exit.Exit<Impl, ActorError.ActorError>) =>
        Effect.flatMap(Clock.currentTimeMillis, (at) => {
          this.building = undefined
          if (Exit.isSuccess(exit)) {
            this.impl = exit.value
            this.failure = undefined
          } else {
            const error = Cause.findErrorOption(exit.cause)
            this.failure = { error: Option.getOrElse(error, () => interrupted(protocol, id)), at }
          }
          return Deferred.done(deferred, exit)
        })
    // synchronous from the check to `building`, so that two callers cannot start two builds
    const start = Effect.suspend(() => {
      if (this.building !== undefined) return Effect.succeed(this.building)
      const deferred = Deferred.makeUnsafe<Impl, ActorError.ActorError>()
      this.building = deferred
      // settled however the build ends, interrupted with the entity included: nobody waits for ever
      return attempt.pipe(Effect.onExit(settle(deferred)), Effect.forkIn(scope), Effect.as(deferred))
    })
    this.resolve = Effect.suspend(() => {
      if (this.impl !== undefined) return Effect.succeed(this.impl)
      if (this.building !== undefined) return Deferred.await(this.building)
      return Effect.flatMap(Clock.currentTimeMillis, (now) =>
        this.failure !== undefined && now - this.failure.at < rebuildAfter
          ? Effect.fail(this.failure.error)
          : Effect.flatMap(start, (deferred) => Deferred.await(deferred))
      )
    })
  }
}

const interrupted = (protocol: Protocol.Any, id: string) =>
  ActorError.make(
    new ActorError.SpawnFailed({ actorId: id, protocol: protocol.name, message: "the build was interrupted" })
  )

const handlersOf = (
  protocol: Protocol.Any,
  id: string,
  instance: Instance,
  context: Context.Context<never>
): Record<string, (request: Entity.Request<any>) => unknown> => {
  const resolve = instance.resolve
  // a stream's resources belong to the caller's run of it, not to the entity's Scope
  const streamContext = Context.omit(Scope.Scope)(context) as Context.Context<never>
  const handlers: Record<string, (request: Entity.Request<any>) => unknown> = {}
  for (const method of (protocol.methodMap as ReadonlyMap<string, Method>).values()) {
    const name = method.name
    const failure = toFailure(id, name)
    if (method.kind === "stream") {
      // forked: in Troupe a stream runs beside the actor's messages, not in its place
      handlers[name] = (request) =>
        Rpc.fork(
          Stream.unwrap(Effect.map(resolve, (impl) => streamOf(impl[name]!(request.payload)))).pipe(
            Stream.provideContext(streamContext),
            Stream.catchCause((cause) => Stream.fromEffect(failure(cause)))
          )
        )
      continue
    }
    const isCast = method.kind === "cast"
    const run = (impl: Impl, payload: unknown): Effect.Effect<unknown, unknown> => {
      let out: Effect.Effect<unknown, unknown>
      try {
        out = effectOf(impl[name]!(payload))
      } catch (defect) {
        return failure(Cause.die(defect))
      }
      // An Exit (Effect.succeed, a plain value) is the answer itself: it reads no service, so it skips
      // the context below, whose merge into the request fiber's context copies both per message (as the
      // actor cell answers an Exit inside the send)
      if (Exit.isExit(out)) return Exit.isSuccess(out) ? (isCast ? Exit.void : out) : failure(out.cause)
      return out.pipe(isCast ? Effect.asVoid : (e) => e, Effect.provideContext(context), Effect.catchCause(failure))
    }
    // suspended, so that the method runs when the entity takes the message, not when it is delivered
    const effect = (payload: unknown): Effect.Effect<unknown, unknown> =>
      Effect.suspend(() =>
        instance.impl !== undefined
          ? run(instance.impl, payload)
          : Effect.flatMap(Effect.catchCause(resolve, failure), (impl) => run(impl as Impl, payload))
      )
    handlers[name] = method.concurrent
      ? (request) => Rpc.fork(effect(request.payload))
      : (request) => effect(request.payload)
  }
  return handlers
}

/** The cluster's errors as the ActorErrors a ref promises; the declared errors and ActorError pass. */
const toActorError =
  (id: string) =>
  (error: unknown): unknown => {
    if (error instanceof ClusterError.MailboxFull) {
      return ActorError.make(new ActorError.MailboxFull({ actorId: id, capacity: -1 }))
    }
    if (
      error instanceof ClusterError.EntityNotAssignedToRunner ||
      error instanceof ClusterError.AlreadyProcessingMessage ||
      error instanceof ClusterError.PersistenceError
    ) {
      return ActorError.make(
        new ActorError.Unreachable({ node: "cluster", message: `${error._tag}: ${error.message}` })
      )
    }
    return error
  }

/** What a ref to a cluster entity delegates to: the entity's cluster client. */
class EntityEndpoint implements ActorRef.Endpoint {
  readonly protocol: Protocol.Any
  readonly id: string
  readonly location = "cluster"
  // incarnation 0 and a node no Troupe system routes to: a ref that travels fails as Unreachable
  readonly address = { node: "cluster", incarnation: 0 }
  private readonly client: Record<string, (payload: unknown, options?: object) => any>
  private readonly mapError: (error: unknown) => unknown
  constructor(protocol: Protocol.Any, id: string, client: Record<string, (payload: unknown) => any>) {
    this.protocol = protocol
    this.id = id
    this.client = client
    this.mapError = toActorError(id)
  }
  call(method: Method, payload: unknown): Effect.Effect<unknown, unknown> {
    return Effect.mapError(this.client[method.name]!(payload) as Effect.Effect<unknown, unknown>, this.mapError)
  }
  cast(method: Method, payload: unknown): Effect.Effect<void, ActorError.ActorError> {
    // discard: answered once the cluster has the message, as a Troupe cast is once it is enqueued
    return Effect.mapError(
      this.client[method.name]!(payload, { discard: true }) as Effect.Effect<void, unknown>,
      this.mapError
    ) as Effect.Effect<void, ActorError.ActorError>
  }
  stream(method: Method, payload: unknown): Stream.Stream<unknown, unknown> {
    return Stream.mapError(this.client[method.name]!(payload) as Stream.Stream<unknown, unknown>, this.mapError)
  }
  get stop(): Effect.Effect<void, ActorError.ActorError> {
    return this.unsupported("stop")
  }
  get kill(): Effect.Effect<void, ActorError.ActorError> {
    return this.unsupported("kill")
  }
  get watch(): Effect.Effect<Termination> {
    return Effect.die(new Error(unsupported(`watching entity "${this.id}"`)))
  }
  private unsupported(what: string): Effect.Effect<never, ActorError.ActorError> {
    return Effect.fail(
      ActorError.make(
        new ActorError.Defect({
          actorId: this.id,
          method: what,
          name: "Unsupported",
          message: unsupported(`${what} (entity "${this.id}")`)
        })
      )
    )
  }
}
