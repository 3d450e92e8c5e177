/**
 * Actor: the functions a user starts with. Declare a protocol (`Actor.make`), then spawn, look up,
 * get-or-spawn (virtual actors), stop and kill actors on any backend, and put deadlines on calls.
 * Without a `backend` option everything happens in-process, from the behaviour Layers in context.
 */
import { Deferred, Duration, Effect, Exit, type Context, type Scope, type Stream } from "effect"
import * as ActorError from "./ActorError.ts"
import * as ActorRef from "./ActorRef.ts"
import * as ActorSystem from "./ActorSystem.ts"
import { Balancer, type Routing } from "./internal/balancer.ts"
import { waitedFor } from "./internal/cell.ts"
import type { Backend } from "./Backend.ts"
import type { Behaviour } from "./Behaviour.ts"
import type { MailboxOptions } from "./Mailbox.ts"
import type { Method, Protocol } from "./Protocol.ts"
import type { Supervision } from "./Supervision.ts"
import type { Termination } from "./Termination.ts"

export { make } from "./Protocol.ts"

/** A backend's service key, e.g. `Workers` from `troupe/node`. */
export type BackendKey = Context.Key<any, Backend>

/** What an operation needs from the context: the backend's service, or (in-process) the behaviour. */
export type Needs<P extends Protocol.Any, B> = [B] extends [Context.Key<infer I, Backend>] ? I : Behaviour<P>

/** Options of `spawn` and `getOrSpawn`. */
export interface SpawnOptions<B extends BackendKey | undefined = undefined> {
  /** The actor's id, unique on the node that runs it. */
  readonly id: string
  /** Where to run it; in-process when omitted. */
  readonly backend?: B
  readonly mailbox?: MailboxOptions | undefined
  /** What the actor does when a handler dies: `Supervision.resume` (the default), `stop` or `restart`. */
  readonly supervision?: Supervision | undefined
  /**
   * Passivation: the actor stops gracefully once it has had no message (and run no handler or stream) for
   * this long, within a quarter more; a `getOrSpawn` or `lookup` that finds it counts as use, and a later
   * `getOrSpawn` of its id builds it afresh. From 1 ms to about 99 days. Default: never.
   */
  readonly idleTimeout?: Duration.Input | undefined
}

/**
 * Spawns an actor. Fails with AlreadyExists if the id is taken.
 *
 * @example
 * ```ts
 * const calc = yield* Actor.spawn(Calculator, { id: "calc" })              // in-process
 * const calcW = yield* Actor.spawn(Calculator, { id: "calc", backend: Workers })
 * ```
 */
export const spawn = <P extends Protocol.Any, B extends BackendKey | undefined = undefined>(
  protocol: P,
  options: SpawnOptions<B>
): Effect.Effect<ActorRef.ActorRef<P>, ActorError.ActorError, Needs<P, B>> => ActorSystem.spawnWith(protocol, options)

/**
 * Returns the actor with this id, spawning it first if there is none (Orleans-style virtual actors).
 * Concurrent calls for one id create one actor.
 *
 * @example
 * ```ts
 * const user = yield* Actor.getOrSpawn(UserSession, { id: `user-${userId}` })
 * ```
 */
export const getOrSpawn = <P extends Protocol.Any, B extends BackendKey | undefined = undefined>(
  protocol: P,
  options: SpawnOptions<B>
): Effect.Effect<ActorRef.ActorRef<P>, ActorError.ActorError, Needs<P, B>> =>
  ActorSystem.getOrSpawnWith(protocol, options)

/**
 * Spawns an actor that lives as long as the current Scope: closing the scope stops it (gracefully; past
 * the system's `stopTimeout` it is killed). Called in a behaviour's build or handler, the scope is the
 * actor's own, so the new actor is a child: it stops when its parent stops, and a restart of the parent
 * stops it before the build spawns it afresh; a child whose supervision gives up fails its parent, for
 * the parent's policy to handle (escalation). Interrupted while the behaviour builds, it kills the actor.
 *
 * @example
 * ```ts
 * const Team = Lead.toLayer(Effect.gen(function* () {
 *   const helper = yield* Actor.spawnScoped(Helper, { id: "helper" }) // stops with the Lead actor
 *   return Lead.of({ delegate: (task) => helper.run(task) })
 * }))
 * ```
 */
export const spawnScoped = <P extends Protocol.Any, B extends BackendKey | undefined = undefined>(
  protocol: P,
  options: SpawnOptions<B>
): Effect.Effect<ActorRef.ActorRef<P>, ActorError.ActorError, Needs<P, B> | Scope.Scope> =>
  ActorSystem.spawnScopedWith(protocol, options)

/**
 * Options of `spawnPool`: those of `spawn`, for each member, and the pool's own. Not `idleTimeout`: a
 * member that passivated would be gone from the pool for good.
 */
export interface PoolOptions<B extends BackendKey | undefined = undefined> extends Omit<
  SpawnOptions<B>,
  "idleTimeout"
> {
  /** How many members: actors `${id}#0` to `${id}#${size - 1}`, one per node of a pool backend in turn. */
  readonly size: number
  /**
   * How a call or a stream picks its member: `"least-busy"` (the default: the member with the fewest of
   * the pool's requests in flight; among equals the one picked last, which is still warm) or
   * `"round-robin"`. Casts always go round the members in turn.
   */
  readonly routing?: Routing | undefined
}

/**
 * Spawns `size` actors of one protocol and returns one ref for them all (a router, in Akka's words):
 * each call goes to the least busy member, so that work spreads over the members' nodes (one per worker
 * of a `Workers` pool, say). Members keep their own mailboxes, state and supervision. A member lost with
 * its node is found again on the node that replaced it (or spawned there afresh); the pool ends when its
 * scope closes (its members are stopped), on `Actor.stop`/`Actor.kill` of its ref, or when every member
 * has ended. Its ref cannot travel inside a message; pass one of `Actor.members(pool)` instead.
 *
 * @example
 * ```ts
 * const thumbnails = yield* Actor.spawnPool(Thumbnailer, { id: "thumbs", size: 4, backend: Workers })
 * const small = yield* thumbnails.resize({ image, width: 128 }) // on whichever worker is least busy
 * ```
 */
export const spawnPool = <P extends Protocol.Any, B extends BackendKey | undefined = undefined>(
  protocol: P,
  options: PoolOptions<B>
): Effect.Effect<ActorRef.ActorRef<P>, ActorError.ActorError, Needs<P, B> | Scope.Scope> =>
  Effect.gen(function* () {
    // an idleTimeout slipped past the type (from plain JS) is dropped with the pool's own options
    const { size, routing, idleTimeout: _idle, ...spawnOptions } = options as PoolOptions<B> & SpawnOptions<B>
    if (!Number.isInteger(size) || size < 1) {
      return yield* Effect.die(new RangeError(`Actor.spawnPool: size must be a whole number ≥ 1, got ${size}`))
    }
    const memberOptions = (i: number) => ({ ...spawnOptions, id: `${options.id}#${i}` })
    const spawned = yield* Effect.forEach(
      Array.from({ length: size }, (_, i) => i),
      (i) => Effect.exit(ActorSystem.spawnWith(protocol, memberOptions(i))),
      { concurrency: "unbounded" }
    )
    const refs = spawned.flatMap((exit) => (Exit.isSuccess(exit) ? [exit.value] : []))
    const failed = spawned.find(Exit.isFailure)
    if (failed !== undefined) {
      yield* Effect.forEach(refs, (ref) => Effect.ignore(ActorSystem.stopRef(ref)), { concurrency: "unbounded" })
      return yield* failed
    }
    const balancer = new Balancer(
      protocol,
      options.id,
      refs,
      routing ?? "least-busy",
      yield* Deferred.make<Termination>()
    )
    yield* Effect.addFinalizer(() => balancer.end("stop"))
    const context = yield* Effect.context<never>()
    for (let i = 0; i < size; i++) {
      const respawn = Effect.provide(
        ActorSystem.getOrSpawnWith(protocol, memberOptions(i)) as Effect.Effect<
          ActorRef.ActorRef<P>,
          ActorError.ActorError
        >,
        context
      )
      yield* Effect.forkScoped(balancer.tend(i, respawn))
    }
    return ActorRef.make<P>(balancer)
  })

/**
 * The members of a pool that are reachable now (a lost member is missing until it is found again); for
 * any other ref, the ref itself.
 *
 * @example
 * ```ts
 * yield* Effect.forEach(Actor.members(pool), (member) => member.reset())
 * ```
 */
export const members = <P extends Protocol.Any>(ref: ActorRef.ActorRef<P>): ReadonlyArray<ActorRef.ActorRef<P>> => {
  const ep = ActorRef.endpoint(ref)
  return ep instanceof Balancer ? ep.refs() : [ref]
}

/**
 * Finds a running actor by id. Fails with NotFound, or ProtocolMismatch if it speaks another protocol.
 *
 * @example
 * ```ts
 * const calc = yield* Actor.lookup(Calculator, "calc")
 * ```
 */
export const lookup = <P extends Protocol.Any, B extends BackendKey | undefined = undefined>(
  protocol: P,
  id: string,
  options?: { readonly backend?: B }
): Effect.Effect<
  ActorRef.ActorRef<P>,
  ActorError.ActorError,
  [B] extends [Context.Key<infer I, Backend>] ? I : never
> => ActorSystem.lookupWith(protocol, id, options?.backend)

/**
 * Graceful stop (a poison pill): messages already queued are handled, later ones fail with Stopped,
 * then the behaviour's finalizers run. Completes when the actor has terminated; stopping a terminated
 * actor succeeds. From inside its own handler an actor can stop itself: the call returns at once.
 *
 * @example
 * ```ts
 * yield* Actor.stop(calc)
 * ```
 */
export const stop = (ref: ActorRef.ActorRef<any>): Effect.Effect<void, ActorError.ActorError> =>
  ActorSystem.stopRef(ref)

/**
 * Kill: queued messages fail with Killed, running handlers are interrupted, finalizers run.
 *
 * @example
 * ```ts
 * yield* Actor.kill(calc)
 * ```
 */
export const kill = (ref: ActorRef.ActorRef<any>): Effect.Effect<void, ActorError.ActorError> =>
  ActorSystem.killRef(ref)

/**
 * Death watch: completes once, when the actor has terminated, with how (Stopped, Killed, Failed, or
 * NodeDown when its node died or became unreachable). Completes at once for an actor already gone.
 *
 * @example
 * ```ts
 * const ended = yield* Actor.watch(worker).pipe(Effect.forkChild)
 * // ... later
 * const termination = yield* Fiber.join(ended) // e.g. Failed { error: ActorError(Defect) }
 * ```
 */
export const watch = (ref: ActorRef.ActorRef<any>): Effect.Effect<Termination> => ActorSystem.watchRef(ref)

const timeoutError = (millis: number, actorId?: string, method?: string) =>
  ActorError.make(
    new ActorError.Timeout({
      millis,
      ...(actorId !== undefined ? { actorId } : {}),
      ...(method !== undefined ? { method } : {})
    })
  )

/**
 * Fails a call with ActorError reason Timeout if it does not complete in time; the handler is interrupted.
 *
 * @example
 * ```ts
 * yield* calc.add({ a: 1, b: 2 }).pipe(Actor.timeout("1 second"))
 * ```
 */
export const timeout =
  (duration: Duration.Input) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | ActorError.ActorError, R> => {
    const millis = Duration.toMillis(Duration.fromInputUnsafe(duration))
    // the race runs `self` in a child fiber: marked, so that a call cycle through it is still found
    return waitedFor(self, (raced) =>
      Effect.timeoutOrElse(raced, { duration, orElse: () => Exit.fail(timeoutError(millis)) })
    )
  }

class TimeoutEndpoint implements ActorRef.Endpoint {
  readonly id: string
  readonly protocol: Protocol.Any
  readonly location: string
  readonly inner: ActorRef.Endpoint
  readonly duration: Duration.Input
  readonly millis: number
  constructor(inner: ActorRef.Endpoint, duration: Duration.Input, millis: number) {
    this.inner = inner
    this.duration = duration
    this.millis = millis
    this.id = inner.id
    this.protocol = inner.protocol
    this.location = inner.location
  }
  call(method: Method, payload: unknown) {
    return waitedFor(this.inner.call(method, payload), (raced) =>
      Effect.timeoutOrElse(raced, {
        duration: this.duration,
        orElse: () => Exit.fail(timeoutError(this.millis, this.id, method.name))
      })
    )
  }
  cast(method: Method, payload: unknown) {
    return Effect.timeoutOrElse(this.inner.cast(method, payload), {
      duration: this.duration,
      orElse: () => Exit.fail(timeoutError(this.millis, this.id, method.name))
    })
  }
  stream(method: Method, payload: unknown): Stream.Stream<unknown, unknown> {
    return this.inner.stream(method, payload)
  }
  get address() {
    return this.inner.address
  }
  get stop() {
    return this.inner.stop
  }
  get kill() {
    return this.inner.kill
  }
  get watch() {
    return this.inner.watch
  }
}

/**
 * A ref whose calls and casts fail with ActorError reason Timeout after `duration` (a default per ref).
 *
 * @example
 * ```ts
 * const calc = Actor.withTimeout(yield* Actor.spawn(Calculator, { id: "calc" }), "2 seconds")
 * ```
 */
export const withTimeout = <P extends Protocol.Any>(
  ref: ActorRef.ActorRef<P>,
  duration: Duration.Input
): ActorRef.ActorRef<P> =>
  ActorRef.make<P>(
    new TimeoutEndpoint(ActorRef.endpoint(ref), duration, Duration.toMillis(Duration.fromInputUnsafe(duration)))
  )
