/**
 * ActorSystem: the in-process backend and the registry of the actors living on this node. It spawns
 * actors from the behaviours in context, finds them by id, and stops them. A process-wide system is
 * there by default; `ActorSystem.layer()` gives an isolated one whose actors stop with its scope, and
 * `serializeMessages: true` makes every local message take the wire's encode/decode path (a test mode).
 */
import { Context, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { ActorContext } from "./ActorContext.ts"
import * as ActorError from "./ActorError.ts"
import * as ActorRef from "./ActorRef.ts"
import type { Backend, SpawnOptions } from "./Backend.ts"
import * as Behaviour from "./Behaviour.ts"
import {
  Cell,
  type CellHost,
  Envelope,
  Admitted,
  WaitingForRoom,
  Full,
  closesCycle,
  idleMillis,
  waiterOf
} from "./internal/cell.ts"
import { Passivation } from "./internal/passivation.ts"
import * as codec from "./internal/codec.ts"
import { randomId } from "./internal/id.ts"
import { Router } from "./internal/router.ts"
import { parentOf } from "./internal/trace.ts"
import { described } from "./internal/deadletters.ts"
import * as Subjects from "./internal/subjects.ts"
import * as Mailbox from "./Mailbox.ts"
import * as T from "./Termination.ts"
import type { Termination } from "./Termination.ts"
import type { Method, Protocol } from "./Protocol.ts"

/** Options of an actor system. */
export interface Options {
  /**
   * This node's id on the wire. Default: "n-" and random characters. Nodes started by a backend get
   * their parent's id and a suffix ("n-3f9a/worker-1.0"), which is how frames find their way.
   */
  readonly nodeId?: string | undefined
  /** Send every local message through Schema encode, CBOR and decode, as a wire would. Default false. */
  readonly serializeMessages?: boolean | undefined
  /** Mailbox defaults for actors spawned without mailbox options. */
  readonly mailbox?: Mailbox.MailboxOptions | undefined
  /**
   * When the system closes, how long its actors have to stop gracefully (handle what is queued, run
   * finalizers) before those still running are killed, in ms. Default 3 000, as for a worker's actors.
   */
  readonly stopTimeout?: number | undefined
}

/** The node's actor system: the in-process backend. */
export interface ActorSystem extends Backend {
  /** This node's id on the wire. */
  readonly nodeId: string
  /** @internal moves channel messages and topic publications between this node and its links */
  readonly router: Router
  readonly serializeMessages: boolean
  /** How long a graceful stop may take before a kill, when the system closes or a scope ends an actor (ms). */
  readonly stopTimeout: number
  /** Spawns an actor from a behaviour (the in-process backend's own spawn, with the behaviour given). */
  spawnFrom<P extends Protocol.Any>(
    protocol: P,
    behaviour: Behaviour.Impl | undefined,
    options: SpawnOptions
  ): Effect.Effect<ActorRef.ActorRef<P>, ActorError.ActorError>
  getOrSpawnFrom<P extends Protocol.Any>(
    protocol: P,
    behaviour: Behaviour.Impl | undefined,
    options: SpawnOptions
  ): Effect.Effect<ActorRef.ActorRef<P>, ActorError.ActorError>
  /** Ids of the actors alive on this node. */
  readonly ids: () => ReadonlyArray<string>
  /** @internal the cell of a live actor, for the wire's server side */
  readonly cellOf: (id: string) => Cell | undefined
  /** @internal the live actors' cells, for the inspector */
  readonly cells: () => Iterable<Cell>
  /** @internal actors spawned on this node, and of them those passivated (idle timeout), since it began */
  readonly spawned: number
  readonly passivated: number
  /** @internal whether this node's actors are metered (see internal/meter.ts) */
  readonly metered: boolean
  /** @internal meters every actor of this node from now on (the inspector's first look turns it on) */
  readonly meter: () => void
  /**
   * @internal the endpoint of one incarnation of a local actor (a ref that travelled and came back),
   * or undefined when that incarnation is no longer the actor under its id
   */
  readonly endpointOf: (id: string, incarnation: number) => ActorRef.Endpoint | undefined
  /** @internal how a terminated incarnation ended (Stopped when it is no longer remembered) */
  readonly terminationOf: (incarnation: number) => Termination
  /** Stops every actor (gracefully) and waits for them. */
  readonly shutdown: Effect.Effect<void>
}

/**
 * The ActorContext's hook for a child spawned in a scope (`Actor.spawnScoped`), under a key shared by every
 * copy of Troupe in the process: a host module may load another copy than the node's entry point, whose
 * `instanceof` would miss.
 */
const escalation: unique symbol = Symbol.for("troupe/ActorContext/escalation") as any

/**
 * The ActorContext of a local actor. Everything is derived from the cell on demand, so that an idle
 * actor carries two fields here rather than a ref and an Effect it may never use.
 */
class LocalActorContext {
  readonly cell: Cell
  private readonly refOf: (cell: Cell) => ActorRef.ActorRef<any>
  constructor(cell: Cell, refOf: (cell: Cell) => ActorRef.ActorRef<any>) {
    this.cell = cell
    this.refOf = refOf
  }
  /**
   * Has a child spawned in `scope` escalate to this actor when it ends `Failed`: nothing to do when the
   * policy would ignore it (resume) or the scope is not this incarnation's own (a handler's
   * `Effect.scoped`: the child belongs to that piece of work). An in-process child is watched by a
   * callback on its cell, unregistered by the scope; another node's, by a fiber in the scope.
   */
  [escalation](child: ActorRef.ActorRef<any>, scope: Scope.Scope | undefined): Effect.Effect<void> {
    const cell = this.cell
    if (scope === undefined || !cell.escalatesFrom(scope)) return Effect.void
    const report = (ended: Termination) => {
      if (ended._tag === "Failed") cell.childFailed(child.id, ended.error.message, scope)
    }
    const endpoint = ActorRef.endpoint(child)
    const local =
      endpoint instanceof LocalEndpoint
        ? endpoint.cell
        : endpoint instanceof SerializingEndpoint
          ? endpoint.inner.cell
          : undefined
    if (local !== undefined) return Scope.addFinalizer(scope, Effect.sync(local.whenTerminated(report)))
    return Effect.asVoid(Effect.forkIn(Effect.map(endpoint.watch, report), scope))
  }
  get id(): string {
    return this.cell.id
  }
  get protocol(): Protocol.Any {
    return this.cell.protocol
  }
  get self(): ActorRef.ActorRef<any> {
    return this.refOf(this.cell)
  }
  get stop(): Effect.Effect<void> {
    return Effect.sync(() => this.cell.stop())
  }
}

class LocalEndpoint implements ActorRef.Endpoint {
  readonly location = "local"
  readonly id: string
  readonly protocol: Protocol.Any
  readonly cell: Cell
  readonly nodeId: string
  constructor(cell: Cell, nodeId: string) {
    this.cell = cell
    this.id = cell.id
    this.protocol = cell.protocol
    this.nodeId = nodeId
  }

  get address(): ActorRef.Address {
    return { node: this.nodeId, incarnation: this.cell.incarnation }
  }

  call(method: Method, payload: unknown): Effect.Effect<unknown, unknown> {
    const cell = this.cell
    return Effect.callback<unknown, unknown>((resume) => {
      const env = new Envelope(method, payload, resume)
      const caller = Fiber.getCurrent()
      env.caller = caller
      env.parent = parentOf(caller)
      const sent = cell.send(env)
      if (sent === Admitted || sent === WaitingForRoom) {
        // queued behind a handler of this actor that waits for the caller: it would wait for itself (a
        // concurrent method too: nothing starts while a sequential handler runs, to keep arrival order)
        if (cell.current !== undefined && closesCycle(env, cell)) {
          cell.cancel(env)
          const cycle = cell.handler !== waiterOf(caller)
          const reason = new ActorError.Deadlock(
            cycle ? { actorId: cell.id, method: method.name, cycle } : { actorId: cell.id, method: method.name }
          )
          return resume(Exit.fail(ActorError.make(reason)))
        }
        return Effect.sync(() => cell.cancel(env))
      }
      resume(Exit.fail(sent === Full ? mailboxFull(cell) : cell.stoppedError))
    })
  }

  cast(method: Method, payload: unknown): Effect.Effect<void, ActorError.ActorError> {
    const cell = this.cell
    return Effect.suspend(() => {
      const env = new Envelope(method, payload, undefined)
      env.parent = parentOf(Fiber.getCurrent())
      let admitted: ((ok: boolean) => void) | undefined
      // the cast may be admitted before the callback below is registered: the fiber can yield between
      // the two steps (its op budget ran out), and the admission must not be lost then
      let early: boolean | undefined
      env.onAdmit = (ok) => (admitted !== undefined ? admitted(ok) : (early = ok))
      const sent = cell.send(env)
      if (sent === Admitted) return Exit.void
      if (sent === WaitingForRoom) {
        return Effect.callback<void, ActorError.ActorError>((resume) => {
          if (early !== undefined) return resume(early ? Exit.void : Exit.fail(cell.stoppedError))
          admitted = (ok) => resume(ok ? Exit.void : Exit.fail(cell.stoppedError))
          return Effect.sync(() => cell.cancel(env))
        })
      }
      return Exit.fail(sent === Full ? mailboxFull(cell) : cell.stoppedError)
    })
  }

  stream(method: Method, payload: unknown): Stream.Stream<unknown, unknown> {
    return Stream.unwrap(this.call(method, payload) as Effect.Effect<Stream.Stream<unknown, unknown>, unknown>)
  }

  get stop(): Effect.Effect<void, ActorError.ActorError> {
    return this.terminate(false)
  }

  get kill(): Effect.Effect<void, ActorError.ActorError> {
    return this.terminate(true)
  }

  get watch(): Effect.Effect<Termination> {
    return terminationOf(this.cell)
  }

  private terminate(kill: boolean): Effect.Effect<void> {
    const cell = this.cell
    return Effect.withFiber((fiber) => {
      if (kill) cell.kill()
      else cell.stop()
      // an actor stopping itself from a handler cannot wait for its own end
      const own = Context.getOption(fiber.context, ActorContext)
      if (own._tag === "Some" && own.value instanceof LocalActorContext && own.value.cell === cell) return Effect.void
      return Effect.callback<void>((resume) => {
        const off = cell.whenTerminated(() => resume(Effect.void))
        return Effect.sync(off)
      })
    })
  }
}

/** Completes once, when the actor has terminated (at once if it already has), with how. */
const terminationOf = (cell: Cell): Effect.Effect<Termination> =>
  Effect.callback<Termination>((resume) => {
    const off = cell.whenTerminated((t) => resume(Exit.succeed(t)))
    return Effect.sync(off)
  })

/** Completes once every one of the cells has terminated. */
const allTerminated = (cells: ReadonlyArray<Cell>): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    let left = cells.length + 1
    const done = () => {
      if (--left === 0) resume(Effect.void)
    }
    const offs = cells.map((cell) => cell.whenTerminated(done))
    done()
    return Effect.sync(() => {
      for (const off of offs) off()
    })
  })

const mailboxFull = (cell: Cell) =>
  ActorError.make(new ActorError.MailboxFull({ actorId: cell.id, capacity: cell.capacity }))

/** The same endpoint with every payload, reply, error and stream element round-tripped through the codec. */
class SerializingEndpoint implements ActorRef.Endpoint {
  readonly location = "local"
  readonly id: string
  readonly protocol: Protocol.Any
  readonly inner: LocalEndpoint
  constructor(inner: LocalEndpoint) {
    this.inner = inner
    this.id = inner.id
    this.protocol = inner.protocol
  }
  get address(): ActorRef.Address {
    return this.inner.address
  }
  call(method: Method, payload: unknown): Effect.Effect<unknown, unknown> {
    return Effect.flatMap(codec.roundTrip(this.id, method, "payload", payload), (p) =>
      Effect.flatMap(Effect.exit(this.inner.call(method, p)), (exit) => codec.roundTripExit(this.id, method, exit))
    )
  }
  cast(method: Method, payload: unknown): Effect.Effect<void, ActorError.ActorError> {
    return Effect.flatMap(codec.roundTrip(this.id, method, "payload", payload), (p) => this.inner.cast(method, p))
  }
  stream(method: Method, payload: unknown): Stream.Stream<unknown, unknown> {
    const id = this.id
    return Stream.unwrap(
      Effect.map(codec.roundTrip(id, method, "payload", payload), (p) =>
        this.inner.stream(method, p).pipe(
          Stream.mapEffect((a) => codec.roundTrip(id, method, "stream", a)),
          Stream.catchCause((cause) => Stream.fromEffect(codec.roundTripExit(id, method, Exit.failCause(cause))))
        )
      )
    ) as Stream.Stream<unknown, unknown>
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
 * A new actor system, outside any scope (call `shutdown` to stop its actors). Most programs use the
 * default system or `ActorSystem.layer()`; a server gives each client session a system of its own.
 */
export const makeUnsafe = (options: Options = {}): ActorSystem => {
  const nodeId = options.nodeId ?? `n-${randomId(8)}`
  const stopTimeout = options.stopTimeout ?? 3_000
  const router = new Router(nodeId, Subjects.lookup)
  const cells = new Map<string, Cell>()
  const passivation = new Passivation()
  let metered = false
  let closed = false
  let spawned = 0
  const serializeMessages = options.serializeMessages === true
  const capacity = options.mailbox?.capacity ?? Mailbox.defaults.capacity
  const overflow = options.mailbox?.overflow ?? Mailbox.defaults.overflow

  // refs are made on demand (two small objects) rather than cached: an idle actor holds none
  const endpointOf = (cell: Cell): ActorRef.Endpoint => {
    const local = new LocalEndpoint(cell, nodeId)
    return serializeMessages ? new SerializingEndpoint(local) : local
  }
  const refOf = <P extends Protocol.Any>(cell: Cell): ActorRef.ActorRef<P> => ActorRef.make<P>(endpointOf(cell))

  const startedExit = <P extends Protocol.Any>(
    cell: Cell,
    error: ActorError.ActorError | undefined
  ): Exit.Exit<ActorRef.ActorRef<P>, ActorError.ActorError> =>
    error === undefined ? Exit.succeed(refOf<P>(cell)) : Exit.fail(error)

  /** The ref once the actor is built; `owned`: a spawner that gives up first kills the actor. */
  const whenStarted = <P extends Protocol.Any>(
    cell: Cell,
    owned = false
  ): Effect.Effect<ActorRef.ActorRef<P>, ActorError.ActorError> => {
    // built (or failed) already: the answer at once, with no callback to suspend on
    if (!cell.isStarting) return startedExit<P>(cell, cell.startFailure)
    return Effect.callback((resume) => {
      cell.whenStarted((error) => resume(startedExit<P>(cell, error)))
      if (owned) return Effect.sync(() => cell.kill())
    })
  }

  const checkProtocol = (cell: Cell, protocol: Protocol.Any): ActorError.ActorError | undefined =>
    cell.protocol.name === protocol.name
      ? undefined
      : ActorError.make(
          new ActorError.ProtocolMismatch({ actorId: cell.id, expected: protocol.name, actual: cell.protocol.name })
        )

  // recent terminations by incarnation, so that a watch arriving after the end still learns how it ended
  const tombstones = new Map<number, Termination>()
  const host: CellHost = {
    terminated: (cell) => {
      if (cells.get(cell.id) === cell) cells.delete(cell.id)
      const termination = cell.terminationOf
      if (termination !== undefined && termination._tag !== "Stopped") {
        tombstones.set(cell.incarnation, termination)
        if (tombstones.size > 4096) tombstones.delete(tombstones.keys().next().value!)
      }
    },
    dropped: (cell, env, error) => {
      // described now (a kill drops at most a mailbox's worth): the letter must not hold the dead actor
      const letter = {
        kind: "cast" as const,
        target: cell.id,
        name: `${cell.protocol.name}.${env.method.name}`,
        reason: error.reason._tag,
        message: error.message,
        from: env.from ?? nodeId
      }
      // `described` makes the thunk outside this scope, which holds the cell for the logger below
      router.deadLetter(described(letter), (effect) => cell.fork(effect))
    }
  }

  // the behaviour's services plus this system, built once per behaviour and shared by its actors
  const baseContexts = new WeakMap<Behaviour.Impl, Context.Context<never>>()
  const baseContext = (behaviour: Behaviour.Impl): Context.Context<never> => {
    let base = baseContexts.get(behaviour)
    if (base === undefined) {
      base = Context.add(behaviour.context, ActorSystem, system)
      baseContexts.set(behaviour, base)
    }
    return base
  }

  const create = <P extends Protocol.Any>(
    protocol: P,
    behaviour: Behaviour.Impl,
    spawnOptions: SpawnOptions,
    idle: number | undefined
  ): Effect.Effect<ActorRef.ActorRef<P>, ActorError.ActorError> => {
    const cell = new Cell(
      spawnOptions.id,
      protocol,
      spawnOptions.mailbox?.capacity ?? capacity,
      spawnOptions.mailbox?.overflow ?? overflow,
      host
    )
    cell.supervision = spawnOptions.supervision
    if (metered) cell.metered()
    cells.set(spawnOptions.id, cell)
    spawned++
    const context = Context.add(baseContext(behaviour), ActorContext, new LocalActorContext(cell, refOf))
    cell.start(behaviour.build, context)
    if (idle !== undefined && cell.isAccepting) passivation.add(cell, idle)
    return whenStarted<P>(cell, spawnOptions.owned === true)
  }

  const unknownProtocol = (protocol: Protocol.Any) =>
    Exit.fail(ActorError.make(new ActorError.UnknownProtocol({ protocol: protocol.name })))

  /**
   * Checks a spawn before anything else: a bad idle timeout is the caller's defect; a closed system
   * spawns nothing (what a spawn put there would outlive the system's end).
   */
  const admit = (
    spawnOptions: SpawnOptions,
    spawn: (idle: number | undefined) => Effect.Effect<ActorRef.ActorRef<any>, ActorError.ActorError>
  ): Effect.Effect<ActorRef.ActorRef<any>, ActorError.ActorError> => {
    let idle: number | undefined
    try {
      idle = idleMillis(spawnOptions.idleTimeout)
    } catch (error) {
      return Effect.die(error)
    }
    if (closed) return Exit.fail(ActorError.make(new ActorError.Stopped({ actorId: spawnOptions.id })))
    return spawn(idle)
  }

  /** A spawn, from a behaviour (undefined: none registered here). Run it inside an Effect. */
  const spawnNow = (
    protocol: Protocol.Any,
    behaviour: Behaviour.Impl | undefined,
    spawnOptions: SpawnOptions
  ): Effect.Effect<ActorRef.ActorRef<any>, ActorError.ActorError> =>
    admit(spawnOptions, (idle) => {
      if (behaviour === undefined) return unknownProtocol(protocol)
      if (cells.has(spawnOptions.id)) {
        return Exit.fail(ActorError.make(new ActorError.AlreadyExists({ actorId: spawnOptions.id })))
      }
      return create(protocol, behaviour, spawnOptions, idle)
    })

  /** A get-or-spawn, from a behaviour (undefined: none registered here). Run it inside an Effect. */
  const getOrSpawnNow = (
    protocol: Protocol.Any,
    behaviour: Behaviour.Impl | undefined,
    spawnOptions: SpawnOptions
  ): Effect.Effect<ActorRef.ActorRef<any>, ActorError.ActorError> =>
    admit(spawnOptions, (idle) => {
      const cell = cells.get(spawnOptions.id)
      if (cell !== undefined) {
        // an actor on its way out (passivated, stopped) is not there to get: once it has ended and its
        // finalizers have run, a fresh one is spawned
        if (!cell.isAccepting) {
          return Effect.flatMap(endOf(cell), () => getOrSpawnNow(protocol, behaviour, spawnOptions))
        }
        const mismatch = checkProtocol(cell, protocol)
        if (mismatch !== undefined) return Exit.fail(mismatch)
        cell.touch()
        return whenStarted(cell)
      }
      if (behaviour === undefined) return unknownProtocol(protocol)
      return create(protocol, behaviour, spawnOptions, idle)
    })

  /**
   * A spawn (or get-or-spawn) with the behaviour in the caller's context, read off the fiber with no
   * Effect in between: a spawn is a handful of Effect steps in all, and each one left out measured ~4%
   * of the spawn rate (bench/spawn.bench.ts)
   */
  const fromContext =
    (
      now: (
        protocol: Protocol.Any,
        behaviour: Behaviour.Impl | undefined,
        spawnOptions: SpawnOptions
      ) => Effect.Effect<ActorRef.ActorRef<any>, ActorError.ActorError>
    ) =>
    <P extends Protocol.Any>(protocol: P, spawnOptions: SpawnOptions) =>
      Effect.withFiber((fiber) =>
        now(protocol, Context.getOrUndefined(fiber.context, Behaviour.key(protocol)), spawnOptions)
      ) as Effect.Effect<ActorRef.ActorRef<P>, ActorError.ActorError>

  /**
   * Waits for an actor that is stopping to end, within the system's stopTimeout (a finalizer that never
   * ends must not hold a getOrSpawn for ever); from inside that actor, fails at once: it would wait for
   * its own end.
   */
  const endOf = (cell: Cell): Effect.Effect<void, ActorError.ActorError> =>
    Effect.withFiber((fiber) => {
      const own = Context.getOption(fiber.context, ActorContext)
      if (own._tag === "Some" && own.value instanceof LocalActorContext && own.value.cell === cell) {
        return Exit.fail(cell.stoppedError)
      }
      return terminationOf(cell).pipe(
        Effect.timeoutOrElse({ duration: stopTimeout, orElse: () => Exit.fail(cell.stoppedError) })
      )
    })

  const system: ActorSystem = {
    name: "local",
    nodeId,
    router,
    serializeMessages,
    stopTimeout,
    spawnFrom: <P extends Protocol.Any>(
      protocol: P,
      behaviour: Behaviour.Impl | undefined,
      spawnOptions: SpawnOptions
    ) =>
      Effect.suspend(() => spawnNow(protocol, behaviour, spawnOptions)) as Effect.Effect<
        ActorRef.ActorRef<P>,
        ActorError.ActorError
      >,
    getOrSpawnFrom: <P extends Protocol.Any>(
      protocol: P,
      behaviour: Behaviour.Impl | undefined,
      spawnOptions: SpawnOptions
    ) =>
      Effect.suspend(() => getOrSpawnNow(protocol, behaviour, spawnOptions)) as Effect.Effect<
        ActorRef.ActorRef<P>,
        ActorError.ActorError
      >,
    spawn: fromContext(spawnNow),
    getOrSpawn: fromContext(getOrSpawnNow),
    lookup: (protocol, id) =>
      Effect.suspend(() => {
        const cell = cells.get(id)
        if (cell === undefined || !cell.isAccepting) {
          return Exit.fail(ActorError.make(new ActorError.NotFound({ actorId: id, protocol: protocol.name })))
        }
        const mismatch = checkProtocol(cell, protocol)
        if (mismatch !== undefined) return Exit.fail(mismatch)
        cell.touch()
        return whenStarted(cell)
      }),
    ids: () => Array.from(cells.keys()),
    terminationOf: (incarnation) => tombstones.get(incarnation) ?? T.stopped,
    cellOf: (id) => cells.get(id),
    cells: () => cells.values(),
    get spawned() {
      return spawned
    },
    get passivated() {
      return passivation.passivated
    },
    get metered() {
      return metered
    },
    meter: () => {
      if (metered) return
      metered = true
      for (const cell of cells.values()) cell.metered()
    },
    endpointOf: (id, incarnation) => {
      const cell = cells.get(id)
      return cell !== undefined && cell.incarnation === incarnation ? endpointOf(cell) : undefined
    },
    // a graceful stop of every actor, bounded: a handler that never ends (a long sleep, a call to itself)
    // must not keep the program from finishing, so what is left after stopTimeout is killed. One wait
    // and one timer for all of them: a timer and a fiber per actor halved the stop rate of 100k actors
    shutdown: Effect.suspend(() => {
      closed = true
      const all = Array.from(cells.values())
      passivation.close()
      for (const cell of all) cell.stop()
      return allTerminated(all).pipe(
        Effect.timeoutOrElse({
          duration: stopTimeout,
          orElse: () =>
            Effect.suspend(() => {
              // every one: an actor whose finalizers still run has not ended either (a kill is a no-op
              // for those that have), and they get the second stopTimeout too
              for (const cell of all) cell.kill()
              return Effect.timeoutOrElse(allTerminated(all), { duration: stopTimeout, orElse: () => Effect.void })
            })
        })
      )
    })
  }
  return system
}

/**
 * The node's actor system. Without a Layer, a process-wide system is used; provide `ActorSystem.layer()`
 * for an isolated one (tests, or to stop every actor when a scope closes).
 */
export const ActorSystem: Context.Reference<ActorSystem> = Context.Reference<ActorSystem>("troupe/ActorSystem", {
  defaultValue: () => makeUnsafe(defaultOptions)
})

let defaultOptions: Options = {}

/**
 * @internal Sets the options of the process-wide system before anything uses it (a worker's or
 * child's entry point gives it the node id its parent chose).
 */
export const configureDefault = (options: Options): void => {
  defaultOptions = options
}

/**
 * An isolated actor system; its actors are stopped when the Layer is released.
 *
 * @example
 * ```ts
 * program.pipe(Effect.provide(ActorSystem.layer({ serializeMessages: true })))
 * ```
 */
export const layer = (options?: Options): Layer.Layer<never> =>
  Layer.effect(
    ActorSystem,
    Effect.acquireRelease(
      Effect.sync(() => makeUnsafe(options)),
      (system) => system.shutdown
    )
  ) as Layer.Layer<never>

/** @internal spawn on the backend named in the options, or in-process from the behaviour in context */
export const spawnWith = <P extends Protocol.Any>(
  protocol: P,
  options: SpawnOptions & { readonly backend?: Context.Key<any, Backend> | undefined }
): Effect.Effect<ActorRef.ActorRef<P>, ActorError.ActorError, any> =>
  options.backend !== undefined
    ? Effect.flatMap(options.backend, (backend) => backend.spawn(protocol, options))
    : Effect.withFiber((fiber) => Context.get(fiber.context, ActorSystem).spawn(protocol, options))

/** @internal */
export const getOrSpawnWith = <P extends Protocol.Any>(
  protocol: P,
  options: SpawnOptions & { readonly backend?: Context.Key<any, Backend> | undefined }
): Effect.Effect<ActorRef.ActorRef<P>, ActorError.ActorError, any> =>
  options.backend !== undefined
    ? Effect.flatMap(options.backend, (backend) => backend.getOrSpawn(protocol, options))
    : Effect.withFiber((fiber) => Context.get(fiber.context, ActorSystem).getOrSpawn(protocol, options))

/**
 * @internal spawn, and stop the actor when the scope closes: gracefully, then (past the system's
 * stopTimeout) with a kill, so that a handler that never ends cannot keep the scope from closing
 */
export const spawnScopedWith = <P extends Protocol.Any>(
  protocol: P,
  options: SpawnOptions & { readonly backend?: Context.Key<any, Backend> | undefined }
): Effect.Effect<ActorRef.ActorRef<P>, ActorError.ActorError, any> =>
  Effect.acquireRelease(
    options.backend === undefined
      ? spawnWith(protocol, { ...options, owned: true })
      : // on a wire backend the SPAWN is on its way: a LOOKUP behind it on the same link finds the actor
        // (it counts as there while it builds) and a kill ends it, without holding up the interruption
        spawnWith(protocol, options).pipe(
          Effect.onInterrupt(() =>
            Effect.forkDetach(
              lookupWith(protocol, options.id, options.backend).pipe(
                Effect.flatMap(killRef),
                Effect.timeout(30_000),
                Effect.ignore
              )
            )
          )
        ),
    (ref) => Effect.flatMap(ActorSystem, (system) => stopWithin(ref, system.stopTimeout)),
    // a build that takes long must not hold up a timeout, or a parent being killed, that gives up on it
    { interruptible: true }
  ).pipe(Effect.tap(escalateTo))

/**
 * Inside an actor (on whichever node it runs), a child spawned in the actor's own scope whose supervision
 * gave up (it ended `Failed`) fails its parent, whose own policy then decides: restart (with a fresh
 * child, built again), stop, or resume (ignore it). Erlang's escalation up a supervision tree. The watch
 * is the scope's latest resource, so a child stopped by the scope's end (the parent stopping or
 * restarting) escalates nothing: the watch has ended first.
 */
const escalateTo = (child: ActorRef.ActorRef<any>): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    const own = Context.getOption(fiber.context, ActorContext)
    if (own._tag === "None") return Effect.void
    const hook = (own.value as Partial<LocalActorContext>)[escalation]
    if (typeof hook !== "function") return Effect.void
    return hook.call(own.value, child, Context.getOrUndefined(fiber.context, Scope.Scope))
  })

/** A graceful stop; a kill if the actor is still running after `ms`; no more waiting after as long again. */
const stopWithin = (ref: ActorRef.ActorRef<any>, ms: number): Effect.Effect<void> =>
  Effect.ignore(stopRef(ref)).pipe(
    Effect.timeoutOrElse({
      duration: ms,
      orElse: () => Effect.ignore(killRef(ref)).pipe(Effect.timeoutOrElse({ duration: ms, orElse: () => Effect.void }))
    })
  )

/** @internal */
export const lookupWith = <P extends Protocol.Any>(
  protocol: P,
  id: string,
  backend: Context.Key<any, Backend> | undefined
): Effect.Effect<ActorRef.ActorRef<P>, ActorError.ActorError, any> =>
  backend !== undefined
    ? Effect.flatMap(backend, (b) => b.lookup(protocol, id))
    : Effect.flatMap(ActorSystem, (system) => system.lookup(protocol, id))

/** @internal */
export const stopRef = (ref: ActorRef.ActorRef<any>): Effect.Effect<void, ActorError.ActorError> =>
  ActorRef.endpoint(ref).stop

/** @internal */
export const killRef = (ref: ActorRef.ActorRef<any>): Effect.Effect<void, ActorError.ActorError> =>
  ActorRef.endpoint(ref).kill

/** @internal */
export const watchRef = (ref: ActorRef.ActorRef<any>): Effect.Effect<Termination> => ActorRef.endpoint(ref).watch

/** @internal */
export const selfRef: Effect.Effect<ActorRef.ActorRef<any>, never, ActorContext> = Effect.map(
  ActorContext,
  (ctx) => ctx.self
)
