/**
 * The actor cell: one actor's mailbox, lifecycle and handler loop, written against callbacks rather than
 * fibers so that the in-process ref and the wire's server side both deliver to it without extra hops.
 * A message whose handler returns an Exit (Effect.succeed, a plain value) is answered without a fiber;
 * any other handler runs in a fiber of its own, so a caller's interrupt or a kill can stop just that one.
 */
import {
  Cause,
  Clock,
  Context,
  Duration,
  Effect,
  Exit,
  type Fiber,
  Pull,
  Schedule,
  Scheduler,
  Scope,
  Stream,
  type Tracer
} from "effect"
import { ActorContext } from "../ActorContext.ts"
import * as ActorError from "../ActorError.ts"
import * as Supervision from "../Supervision.ts"
import * as T from "../Termination.ts"
import type { Termination } from "../Termination.ts"
import type { Method, Protocol } from "../Protocol.ts"
import { effectOf, streamOf } from "./handler.ts"
import { randomId } from "./id.ts"
import { isIdleMillis, MAX_CHAIN } from "./wire/frame.ts"
import { Meter, now, stride } from "./meter.ts"
import { inSpan } from "./trace.ts"

// envelope states (numbers, not an enum: the sources stay erasable TypeScript)
const Queued = 0
const Waiting = 1
const Running = 2
const Done = 3
const Cancelled = 4

/** One message on its way to a handler. */
export class Envelope {
  state: number = Queued
  fiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  readonly method: Method
  readonly payload: unknown
  /** Receives the outcome of a call or stream; the failure is the declared error or an ActorError. */
  readonly reply: ((exit: Exit.Exit<unknown, unknown>) => void) | undefined
  /** Suspended sender (overflow "suspend"): told when the message gets into the mailbox. */
  onAdmit: ((ok: boolean) => void) | undefined = undefined
  /** The cell the envelope was sent to, so that whoever holds it can cancel it. */
  owner: Cell | undefined = undefined
  /**
   * When it was sent (ms, monotonic), if the cell's meter times it: positive when it counts once,
   * negated when it stands for `stride` messages (one field, not two, on every message).
   */
  at = 0
  /** The fiber that made the call (local calls): if it is a handler, that handler's call waits for this one. */
  caller: Fiber.Fiber<unknown, unknown> | undefined = undefined
  /** A call from another node: the tokens of the handler runs waiting for it there (CALL's chain). */
  chain: ReadonlyArray<string> | undefined = undefined
  /** This message's handler run, named once a call it makes leaves for another node. */
  token: string | undefined = undefined
  /** The node a cast came from, when it came over the wire (for dead letters). */
  from: string | undefined = undefined
  /** The sender's span, when it sent from inside one: the handler runs in a child span. */
  parent: Tracer.AnySpan | undefined = undefined
  constructor(method: Method, payload: unknown, reply: ((exit: Exit.Exit<unknown, unknown>) => void) | undefined) {
    this.method = method
    this.payload = payload
    this.reply = reply
  }
}

/** What a cell tells its system; one object shared by the actors of a system. */
export interface CellHost {
  /** Called once when the actor has terminated (after finalizers). */
  terminated(cell: Cell): void
  /** A cast is dropped with no sender to tell: it was still queued when the actor was killed or failed. */
  dropped(cell: Cell, env: Envelope, error: ActorError.ActorError): void
}

/** What `send` did with a message: in the mailbox; waiting for room (`onAdmit` follows); refused. */
export const Admitted = 0
export const WaitingForRoom = 1
export const Full = 2
export const Refused = 3
export type Sent = typeof Admitted | typeof WaitingForRoom | typeof Full | typeof Refused

// cell statuses, in lifecycle order
const Starting = 0
const Active = 1
const Stopping = 2
const Terminated = 3

export type { Termination }

// Synchronous drains nest when a resumed caller sends to another idle actor; past this depth the drain
// is scheduled instead, so that chains of actors can never overflow the stack.
const maxDrainDepth = 16
// A drain that handled this many messages yields to the event loop, so one busy actor cannot starve I/O.
const drainBudget = 4096
let drainDepth = 0
let incarnations = 0

// one dispatcher per scheduler, shared by every actor that runs on it
const dispatchers = new WeakMap<Scheduler.Scheduler, Scheduler.SchedulerDispatcher>()
const dispatcherOf = (scheduler: Scheduler.Scheduler): Scheduler.SchedulerDispatcher => {
  let d = dispatchers.get(scheduler)
  if (d === undefined) {
    d = scheduler.makeDispatcher()
    dispatchers.set(scheduler, d)
  }
  return d
}

/** A failure in one line for the inspector: a declared error by its tag, an exception by name and message. */
const summarize = (error: unknown): string => {
  const tag = (error as { _tag?: unknown } | null)?._tag
  const message = error instanceof Error ? error.message : ""
  if (typeof tag === "string") return message === "" ? tag : `${tag}: ${message}`
  if (error instanceof Error) return `${error.name}: ${message}`
  return String(error)
}

/** How many looks an idle timeout's sweep takes per timeout: an actor passivates within a quarter more. */
export const idleLooks = 4

// An idle timeout's state, packed in one number so that an actor with one carries no object of its own:
// bit 0 is set when a message arrived, or the actor was at work, since the sweep's last look; bits 1-3
// count the looks in a row that found it idle; the rest count the runs of its streams in progress.
const Seen = 1
const Quiet = 2
const QuietMask = 14
const Streaming = 16

/** An idle timeout in ms (undefined for none); a RangeError for one under 1 ms or over ~99 days. */
export const idleMillis = (input: Duration.Input | undefined): number | undefined => {
  if (input === undefined) return undefined
  const millis = Duration.toMillis(Duration.fromInputUnsafe(input))
  if (!isIdleMillis(millis)) {
    throw new RangeError(`idleTimeout must be between 1 ms and about 99 days, got ${String(input)}`)
  }
  return millis
}

/** What a parent's supervision sees when a child of it failed for good. */
class ChildFailed extends Error {
  override readonly name = "ChildFailed"
  constructor(childId: string, message: string) {
    super(`child actor ${childId} failed for good: ${message}`)
  }
}

/** A restartable actor's build, its context before the Scope is added, and its restarts so far. */
class RestartState {
  restarts: Array<number> = []
  /** Children that failed for good while a restart built the behaviour: applied once it is built. */
  held: Array<() => void> | undefined = undefined
  step: ((input: unknown) => Effect.Effect<unknown, unknown>) | undefined = undefined
  restarting = false
  readonly build: Effect.Effect<object, unknown, never>
  readonly baseContext: Context.Context<never>
  constructor(build: Effect.Effect<object, unknown, never>, baseContext: Context.Context<never>) {
    this.build = build
    this.baseContext = baseContext
  }
}

/** @internal */
export class Cell {
  status: number = Starting
  // Fields are few and mostly lazy: an idle actor should cost well under a kilobyte (docs/benchmarks.md).
  private queue: Array<Envelope | undefined> = []
  private head = 0
  private waiting: Array<Envelope> | undefined = undefined
  private busy = false
  /** The message the sequential handler running now is handling (its fiber noted on it: `handler`). */
  current: Envelope | undefined = undefined
  private draining = false
  private building = true
  private running = 0
  /** Times the cell interrupted its fibers (kill, supervision giving up, restart): see `interruptAll`. */
  private interrupts = 0
  private fibers: Set<Fiber.Fiber<unknown, unknown>> | undefined = undefined
  private impl: any = undefined
  /** The actor's context: the behaviour's services, ActorContext and the actor's Scope. */
  private context: Context.Context<never> | undefined = undefined
  private streamContext: Context.Context<never> | undefined = undefined
  private scope: Scope.Closeable | undefined = undefined
  private termination: Termination | undefined = undefined
  /** Those waiting for the end; null once it has come (its finalizers have run, its id is free). */
  private observers: Array<(t: Termination) => void> | undefined | null = undefined
  private startObservers: Array<(error: ActorError.ActorError | undefined) => void> | undefined = undefined
  private stopped: ActorError.ActorError | undefined = undefined
  /** The initial build's failure, for those who wait on the spawn. */
  private startError: ActorError.ActorError | undefined = undefined
  /** The supervision policy; undefined means resume. */
  supervision: Supervision.Supervision | undefined = undefined
  /** What a restart needs; only actors whose policy is restart keep it (it holds their base context). */
  private restartState: RestartState | undefined = undefined
  /** Counters for the inspector, once this node is inspected (see meter.ts). */
  meter: Meter | undefined = undefined
  /** An actor spawned with an idle timeout: its state, packed (see `Seen`); undefined otherwise. */
  idle: number | undefined = undefined

  readonly id: string
  /** Unique on this node: tells this actor from a later one spawned under the same id. */
  readonly incarnation: number
  readonly protocol: Protocol.Any
  readonly capacity: number
  readonly overflow: "suspend" | "fail"
  private readonly host: CellHost

  constructor(id: string, protocol: Protocol.Any, capacity: number, overflow: "suspend" | "fail", host: CellHost) {
    this.id = id
    this.incarnation = ++incarnations
    this.protocol = protocol
    this.capacity = capacity
    this.overflow = overflow
    this.host = host
  }

  /** Runs an effect with the actor's services (its logger...), or the default ones before it has any. */
  fork<A, E>(effect: Effect.Effect<A, E, never>): Fiber.Fiber<A, E> {
    return this.context === undefined ? Effect.runFork(effect) : Effect.runForkWith(this.context)(effect)
  }

  private schedule(task: () => void): void {
    dispatcherOf(Context.get(this.context!, Scheduler.Scheduler)).scheduleTask(task, 0)
  }

  /**
   * Holds a fiber that is still running, so that a kill, supervision giving up or a restart interrupts
   * it. `interrupts` is the count before the fiber was forked: if it moved, one of those ran inside the
   * fork (woken by the fiber's first steps: Effect resumes a Deferred's waiter synchronously), before the
   * cell had the fiber, and missed it. Tracking each fiber as it starts instead would give every actor a
   * Set from its build on: 150 bytes more per idle actor, past the 1 KB bar.
   */
  private track(fiber: Fiber.Fiber<unknown, unknown>, interrupts = this.interrupts): void {
    ;(this.fibers ??= new Set()).add(fiber)
    if (interrupts !== this.interrupts) fiber.interruptUnsafe()
  }

  private interruptAll(): void {
    this.interrupts++
    if (this.fibers !== undefined) for (const fiber of this.fibers) fiber.interruptUnsafe()
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Builds the behaviour in `context` (which holds the behaviour Layer's services and the ActorContext)
   * with a fresh Scope; queued messages wait until it is built.
   */
  start(build: Effect.Effect<object, unknown, never>, context: Context.Context<never>): void {
    if (this.supervision?._tag === "Restart") this.restartState = new RestartState(build, context)
    this.construct(build, context, (exit) => {
      if (this.termination?._tag === "Killed") {
        this.notifyStarted(ActorError.make(new ActorError.Killed({ actorId: this.id })))
        return this.finish(this.termination)
      }
      if (Exit.isSuccess(exit)) {
        this.impl = exit.value
        if (this.status === Starting) this.status = Active
        this.notifyStarted(undefined)
        this.drain()
        this.maybeFinish()
      } else {
        const error = ActorError.make(
          new ActorError.SpawnFailed({
            actorId: this.id,
            protocol: this.protocol.name,
            message: Cause.pretty(exit.cause)
          })
        )
        this.startError = error
        this.failPending(error)
        this.notifyStarted(error)
        this.finish(new T.Failed({ error }))
      }
    })
  }

  /** Runs the behaviour's build with a fresh Scope; queued messages wait meanwhile. */
  private construct(
    build: Effect.Effect<object, unknown, never>,
    base: Context.Context<never>,
    done: (exit: Exit.Exit<object, unknown>) => void
  ): void {
    const scope = Scope.makeUnsafe()
    this.scope = scope
    this.context = Context.add(base, Scope.Scope, scope)
    this.building = true
    const interrupts = this.interrupts
    const fiber = this.fork(build)
    const finished = (exit: Exit.Exit<object, unknown>) => {
      this.fibers?.delete(fiber)
      this.building = false
      done(exit)
    }
    const exit = fiber.pollUnsafe()
    if (exit !== undefined) return finished(exit)
    this.track(fiber, interrupts)
    fiber.addObserver(finished)
  }

  // ---------------------------------------------------------------- supervision

  /** A handler died, or a cast failed with no one to tell: apply the supervision policy. */
  private failed(cause: Cause.Cause<unknown>, method: string): void {
    const policy = this.supervision
    if (policy === undefined || policy._tag === "Resume") return
    if (this.status >= Stopping || this.restartState?.restarting === true) return
    const error = ActorError.fromCause(this.id, method, cause) as ActorError.ActorError
    const failure = ActorError.isActorError(error)
      ? error
      : ActorError.make(new ActorError.Defect({ actorId: this.id, method, name: "Failure", message: String(error) }))
    if (policy._tag === "Stop") return this.escalate(failure)
    if (!this.mayRestart(policy)) return this.escalate(failure)
    this.restart(policy, failure)
  }

  /** Counts this restart against the policy's intensity: at most `maxRestarts` within `within`. */
  private mayRestart(policy: Extract<Supervision.Supervision, { _tag: "Restart" }>): boolean {
    const state = this.restartState!
    const now = Context.get(this.context!, Clock.Clock).currentTimeMillisUnsafe()
    const recent = state.restarts.filter((t) => now - t < policy.withinMillis)
    // a quiet period lets the backoff start again from its first delay
    if (recent.length === 0) state.step = undefined
    recent.push(now)
    state.restarts = recent
    return recent.length <= policy.maxRestarts
  }

  /** Closes the old scope, waits the backoff, builds the behaviour again; the mailbox waits meanwhile. */
  private restart(policy: Extract<Supervision.Supervision, { _tag: "Restart" }>, failure: ActorError.ActorError): void {
    const state = this.restartState!
    state.restarting = true
    this.building = true
    if (this.meter !== undefined) this.meter.restarts++
    this.interruptAll()
    if (state.step === undefined) {
      const stepper = this.fork(Schedule.toStepWithSleep(Supervision.scheduleOf(policy)))
      state.step = (stepper.pollUnsafe() as Exit.Success<(input: unknown) => Effect.Effect<unknown, unknown>>).value
    }
    const oldScope = this.scope!
    const interrupts = this.interrupts
    const waited = this.fork(
      Scope.close(oldScope, Exit.fail(failure)).pipe(Effect.andThen(Effect.exit(state.step(undefined))))
    )
    const afterWait = (exit: Exit.Exit<Exit.Exit<unknown, unknown>, unknown>) => {
      if (this.status >= Stopping) return this.abandonRestart()
      const stepped = Exit.isSuccess(exit) ? exit.value : exit
      // the Schedule ended: no more restarts
      if (Exit.isFailure(stepped) && Pull.isDoneCause(stepped.cause)) return this.abandonRestart(failure)
      this.construct(state.build, state.baseContext, (built) => {
        if (this.status >= Stopping) return this.abandonRestart()
        if (Exit.isFailure(built)) {
          state.restarting = false
          const error = ActorError.make(
            new ActorError.SpawnFailed({
              actorId: this.id,
              protocol: this.protocol.name,
              message: Cause.pretty(built.cause)
            })
          )
          if (!this.mayRestart(policy)) return this.escalate(error)
          return this.restart(policy, error)
        }
        this.impl = built.value
        state.restarting = false
        this.drain()
        this.maybeFinish()
        const held = state.held
        state.held = undefined
        if (held !== undefined) for (const later of held) later()
      })
    }
    const done = waited.pollUnsafe()
    if (done !== undefined) afterWait(done)
    else {
      this.track(waited as Fiber.Fiber<unknown, unknown>, interrupts)
      waited.addObserver((exit) => {
        this.fibers?.delete(waited as Fiber.Fiber<unknown, unknown>)
        afterWait(exit)
      })
    }
  }

  private abandonRestart(failure?: ActorError.ActorError): void {
    this.restartState!.restarting = false
    this.building = false
    if (failure !== undefined) return this.escalate(failure)
    this.maybeFinish()
  }

  /**
   * Whether a child spawned in `scope` would fail this actor by failing for good: the scope is this
   * incarnation's own, and the policy would not ignore it (resume).
   */
  escalatesFrom(scope: Scope.Scope): boolean {
    const policy = this.supervision
    return scope === this.scope && policy !== undefined && policy._tag !== "Resume"
  }

  /**
   * A child spawned in `scope` (this incarnation's, by `Actor.spawnScoped`) failed for good: a failure of
   * this actor, for its policy to handle (escalation). During a build it waits for the build to end.
   */
  childFailed(childId: string, message: string, scope: Scope.Scope): void {
    if (scope !== this.scope || this.status >= Stopping) return
    if (this.building) {
      const later = () => this.childFailed(childId, message, scope)
      if (this.restartState?.restarting === true) (this.restartState.held ??= []).push(later)
      else this.whenStarted((error) => error === undefined && later())
      return
    }
    this.failed(Cause.die(new ChildFailed(childId, message)), `(child ${childId})`)
  }

  /** Supervision gives up: the actor stops, queued messages fail, watchers learn `Failed`. */
  private escalate(error: ActorError.ActorError): void {
    if (this.termination !== undefined || this.status === Terminated) return
    this.status = Stopping
    this.termination = new T.Failed({ error })
    this.failPending(this.stoppedError)
    this.interruptAll()
    this.maybeFinish()
  }

  /** Calls back once the behaviour is built (undefined) or failed to build (the error). */
  whenStarted(cb: (error: ActorError.ActorError | undefined) => void): void {
    if (this.status === Starting) (this.startObservers ??= []).push(cb)
    else cb(this.startError)
  }

  private notifyStarted(error: ActorError.ActorError | undefined): void {
    const observers = this.startObservers
    this.startObservers = undefined
    if (observers !== undefined) for (const cb of observers) cb(error)
  }

  /**
   * Calls back once when the actor has terminated (at once if it already has): after its finalizers, so
   * that a stop or kill that waits for this leaves the id free and the actor's resources released.
   */
  whenTerminated(cb: (t: Termination) => void): () => void {
    if (this.observers === null) {
      cb(this.termination!)
      return () => {}
    }
    const observers = (this.observers ??= [])
    observers.push(cb)
    return () => {
      const i = observers.indexOf(cb)
      if (i >= 0) observers.splice(i, 1)
    }
  }

  /** How the actor ended, once it has. */
  get terminationOf(): Termination | undefined {
    return this.status === Terminated ? this.termination : undefined
  }

  /** Killed (its queued messages fail with Killed), rather than stopped or failed. */
  get killed(): boolean {
    return this.termination?._tag === "Killed"
  }

  get isTerminated(): boolean {
    return this.status === Terminated
  }

  /**
   * One look of the idle timeout's sweep, taken every quarter of the timeout: true at the fourth look in
   * a row that finds no message since the last one and nothing running, queued, building or streaming.
   */
  idleLook(): boolean {
    const idle = this.idle!
    if (
      this.busy ||
      this.running > 0 ||
      this.building ||
      idle >= Streaming ||
      this.head < this.queue.length ||
      this.waiting !== undefined
    ) {
      // at work: the quiet is counted from the look after the work ends
      this.idle = (idle & ~QuietMask) | Seen
      return false
    }
    if ((idle & Seen) !== 0) {
      this.idle = idle & ~(Seen | QuietMask)
      return false
    }
    const quiet = ((idle & QuietMask) >> 1) + 1
    if (quiet >= idleLooks) return true
    this.idle = (idle & ~QuietMask) | (quiet * Quiet)
    return false
  }

  /** Counts as use for an idle timeout (a message, a getOrSpawn or lookup that found the actor). */
  touch(): void {
    if (this.idle !== undefined) this.idle |= Seen
  }

  /** The clock of the actor's services (a sweep of its idle timeout runs on it). */
  get clock(): Clock.Clock {
    return Context.get(this.context!, Clock.Clock)
  }

  /** Turns the meter on (idempotent). */
  metered(): void {
    this.meter ??= new Meter()
  }

  /** Messages queued or waiting for room, for the inspector. */
  get depth(): number {
    return this.queue.length - this.head + (this.waiting?.length ?? 0)
  }

  /** The lifecycle state, for the inspector. */
  get state(): "starting" | "active" | "restarting" | "stopping" | "terminated" {
    if (this.restartState?.restarting === true && this.status === Active) return "restarting"
    return this.status === Starting
      ? "starting"
      : this.status === Active
        ? "active"
        : this.status === Stopping
          ? "stopping"
          : "terminated"
  }

  /** Why its behaviour failed to build, once it has (undefined while building, or built). */
  get startFailure(): ActorError.ActorError | undefined {
    return this.startError
  }

  /** Its behaviour is still being built for the first time. */
  get isStarting(): boolean {
    return this.status === Starting
  }

  get isAccepting(): boolean {
    return this.status === Starting || this.status === Active
  }

  /** Poison pill: refuse new messages, handle what was sent before, then run finalizers. */
  stop(): void {
    if (this.status === Starting || this.status === Active) {
      this.status = Stopping
      this.maybeFinish()
    }
  }

  /** Fails every queued and waiting message with Killed, interrupts running handlers, runs finalizers. */
  kill(): void {
    if (this.status === Terminated || this.termination !== undefined) return
    const killed = ActorError.make(new ActorError.Killed({ actorId: this.id }))
    this.status = Stopping
    this.termination = T.killed
    this.failPending(killed)
    this.interruptAll()
    this.maybeFinish()
  }

  private failPending(error: ActorError.ActorError): void {
    const exit = Exit.fail(error)
    const queue = this.queue
    const waiting = this.waiting
    this.queue = []
    this.head = 0
    this.waiting = undefined
    for (const env of queue) {
      if (env !== undefined && env.state === Queued) {
        env.state = Done
        if (env.reply !== undefined) env.reply(exit)
        else this.host.dropped(this, env, error)
      }
    }
    if (waiting !== undefined)
      for (const env of waiting) {
        if (env.state === Waiting) {
          env.state = Done
          const admit = env.onAdmit
          env.onAdmit = undefined
          if (env.reply !== undefined) env.reply(exit)
          else admit?.(false)
        }
      }
  }

  private maybeFinish(): void {
    if (
      this.status === Stopping &&
      !this.building &&
      !this.draining &&
      this.running === 0 &&
      !this.busy &&
      this.head >= this.queue.length &&
      (this.waiting === undefined || this.waiting.length === 0)
    ) {
      this.finish(this.termination ?? T.stopped)
    }
  }

  private finish(termination: Termination): void {
    if (this.status === Terminated) return
    this.status = Terminated
    this.termination = termination
    const notify = () => {
      this.host.terminated(this)
      const observers = this.observers
      this.observers = null
      if (observers) for (const cb of observers) cb(termination)
    }
    const scope = this.scope
    if (scope === undefined || this.context === undefined) return notify()
    // a restart that failed may have closed the scope already: closing twice is harmless
    const fiber = this.fork(Scope.close(scope, termination._tag === "Stopped" ? Exit.void : Exit.interrupt()))
    if (fiber.pollUnsafe() !== undefined) notify()
    else fiber.addObserver(notify)
  }

  // ---------------------------------------------------------------- messages

  /** Offers a message to the mailbox. */
  send(env: Envelope): Sent {
    if (this.status >= Stopping) return Refused
    env.owner = this
    this.touch()
    if (this.queue.length - this.head >= this.capacity || this.waiting !== undefined) {
      if (this.overflow === "fail") return Full
      if (this.meter !== undefined) this.admitted(env)
      env.state = Waiting
      ;(this.waiting ??= []).push(env)
      return WaitingForRoom
    }
    if (this.meter !== undefined) this.admitted(env)
    this.queue.push(env)
    if (!this.draining && !this.busy && !this.building) this.drain()
    return Admitted
  }

  /** Counts a message the mailbox took (or will take when there is room), and stamps it if it is timed. */
  private admitted(env: Envelope): void {
    const weight = this.meter!.admit()
    if (weight > 0) env.at = weight === 1 ? now() : -now()
  }

  /** The sender gave up (interrupted): drop the message if it is not handled yet, else interrupt its handler. */
  cancel(env: Envelope): void {
    switch (env.state) {
      case Queued:
        env.state = Cancelled
        return
      case Waiting: {
        env.state = Cancelled
        const waiting = this.waiting
        const i = waiting === undefined ? -1 : waiting.indexOf(env)
        if (i >= 0) waiting!.splice(i, 1)
        if (waiting?.length === 0) this.waiting = undefined
        return
      }
      case Running:
        env.state = Cancelled
        env.fiber?.interruptUnsafe()
        return
    }
  }

  /** The error a sender gets when the actor refuses messages (built once, when first needed). */
  get stoppedError(): ActorError.ActorError {
    return (this.stopped ??= ActorError.make(new ActorError.Stopped({ actorId: this.id })))
  }

  private admitWaiting(): void {
    const waiting = this.waiting!
    while (waiting.length > 0 && this.queue.length - this.head < this.capacity) {
      const env = waiting.shift()!
      if (waiting.length === 0) this.waiting = undefined
      if (env.state !== Waiting) continue
      env.state = Queued
      this.queue.push(env)
      const admit = env.onAdmit
      env.onAdmit = undefined
      admit?.(true)
    }
  }

  /** Handles queued messages in order until the mailbox is empty or a sequential handler suspends. */
  drain(): void {
    if (this.draining || this.busy || this.building || this.status === Terminated) return
    if (drainDepth >= maxDrainDepth) {
      this.draining = true
      this.schedule(() => {
        this.draining = false
        this.drain()
      })
      return
    }
    this.draining = true
    drainDepth++
    let handled = 0
    try {
      while (!this.busy && !this.building && this.head < this.queue.length) {
        if (++handled > drainBudget) {
          this.schedule(() => {
            this.draining = false
            this.drain()
          })
          return
        }
        const env = this.queue[this.head]!
        this.queue[this.head++] = undefined
        if (this.waiting !== undefined) this.admitWaiting()
        if (env.state !== Queued) continue
        this.run(env)
      }
      if (this.head >= this.queue.length) {
        this.queue.length = 0
        this.head = 0
      }
      this.draining = false
    } finally {
      drainDepth--
    }
    this.maybeFinish()
  }

  private run(env: Envelope): void {
    const method = env.method
    let effect: Effect.Effect<unknown, unknown>
    try {
      effect = this.toEffect(method, this.impl[method.name](env.payload))
    } catch (defect) {
      effect = Exit.die(defect)
    }
    if (env.parent !== undefined) effect = inSpan(effect, this.protocol.name, method, this.id, env.parent)
    if (Exit.isExit(effect)) return this.complete(env, effect)
    env.state = Running
    // counted as running before the fiber starts: a handler that stops its own actor must not see it idle
    this.running++
    if (!method.concurrent) this.busy = true
    const interrupts = this.interrupts
    const fiber = this.fork(this.marked(effect, env, method.concurrent))
    const exit = fiber.pollUnsafe()
    if (exit !== undefined) {
      this.running--
      if (!method.concurrent) {
        this.busy = false
        this.current = undefined
      }
      env.fiber = undefined
      return this.complete(env, exit)
    }
    this.track(fiber, interrupts)
    fiber.addObserver((exit) => {
      this.fibers?.delete(fiber)
      this.running--
      if (!method.concurrent) {
        this.busy = false
        this.current = undefined
      }
      env.fiber = undefined
      this.complete(env, exit)
      this.drain()
      this.maybeFinish()
    })
  }

  /** The fiber of the sequential handler running now, to tell a call it waits for (a deadlock). */
  get handler(): Fiber.Fiber<unknown, unknown> | undefined {
    return this.current?.fiber
  }

  /**
   * A handler's Effect, noting its fiber (and a sequential one's message) as it starts, not once the fork
   * returns: the fork runs it at once, and a fiber it wakes (a Deferred it completes resumes its waiter
   * synchronously) may give up the call before the fork has returned.
   */
  private marked(
    effect: Effect.Effect<unknown, unknown>,
    env: Envelope,
    concurrent: boolean
  ): Effect.Effect<unknown, unknown> {
    return Effect.withFiber((fiber) => {
      env.fiber = fiber
      if (!concurrent) this.current = env
      return effect
    })
  }

  /** Normalizes what a handler returned: Effect, Promise, plain value, or (stream methods) a Stream/iterable. */
  private toEffect(method: Method, out: unknown): Effect.Effect<unknown, unknown> {
    return method.kind === "stream" ? Exit.succeed(this.toStream(method, out)) : effectOf(out)
  }

  private toStream(method: Method, out: unknown): Stream.Stream<unknown, unknown> {
    const stream = this.idle === undefined ? streamOf(out) : this.counted(streamOf(out))
    const id = this.id
    return stream.pipe(
      // the actor's services, but not its Scope: a stream's resources belong to the caller's run of it
      Stream.provideContext(
        (this.streamContext ??= Context.omit(Scope.Scope)(this.context!) as Context.Context<never>)
      ),
      Stream.catchCause((cause) => Stream.fail(ActorError.fromCause(id, method.name, cause))),
      Stream.interruptWhen(
        Effect.callback<never, ActorError.ActorError>((resume) => {
          const off = this.whenTerminated(() => resume(Exit.fail(this.stoppedError)))
          return Effect.sync(off)
        })
      )
    )
  }

  /** A stream whose runs keep an actor with an idle timeout from passivating while they last. */
  private counted(stream: Stream.Stream<unknown, unknown>): Stream.Stream<unknown, unknown> {
    // acquired and released as one resource of the run's scope: no step between the count and its undo
    return Stream.unwrap(
      Effect.as(
        Effect.acquireRelease(
          Effect.sync(() => {
            this.idle! += Streaming
          }),
          () =>
            Effect.sync(() => {
              this.idle = (this.idle! - Streaming) | Seen
            })
        ),
        stream
      )
    )
  }

  private complete(env: Envelope, exit: Exit.Exit<unknown, unknown>): void {
    const cancelled = env.state === Cancelled
    env.state = Done
    if (this.meter !== undefined) this.measure(env, exit)
    const reply = env.reply
    if (!cancelled && reply !== undefined) {
      if (Exit.isSuccess(exit)) return reply(exit)
      if (this.termination?._tag === "Killed" && Cause.hasInterrupts(exit.cause)) {
        reply(Exit.fail(ActorError.make(new ActorError.Killed({ actorId: this.id }))))
      } else {
        reply(Exit.fail(ActorError.fromCause(this.id, env.method.name, exit.cause)))
      }
    }
    if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return
    // a defect, or a cast's failure that no one else will hear of: the supervision policy decides
    const defect = exit.cause.reasons.some((r) => r._tag === "Die")
    if (reply === undefined && !defect) {
      this.fork(
        Effect.logWarning(`troupe: cast ${this.protocol.name}.${env.method.name} on "${this.id}" failed`, exit.cause)
      )
    }
    if (defect || reply === undefined) this.failed(exit.cause, env.method.name)
  }

  private measure(env: Envelope, exit: Exit.Exit<unknown, unknown>): void {
    const meter = this.meter!
    meter.handled++
    if (env.at > 0) meter.record(now() - env.at, 1)
    else if (env.at < 0) meter.record(now() + env.at, stride)
    if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return
    const defect = exit.cause.reasons.some((r) => r._tag === "Die")
    meter.failed(defect, `${env.method.name}: ${summarize(Cause.squash(exit.cause))}`)
  }
}

// ---------------------------------------------------------------- call cycles
//
// A sequential handler that waits for a call blocks its actor's mailbox. If that call, through other
// actors' handlers, comes back to the same actor, it queues behind the handler that waits for it: a
// deadlock that would last until a timeout. Each call records the fiber that made it; a handler fiber
// among them leads to the call its actor is running, whose own caller leads further up. A call that
// leaves for another node carries that chain as tokens naming the runs (CALL's 7th element), so that
// cycles through workers, children and TCP peers are found too (Orleans finds them the same way).
// Only fibers that are a handler's own count: a call from a forked fiber proves no one waits for it.
// Chains longer than MAX_CHAIN are cut (a cycle past it is not found).

const tokenPrefix = randomId(8)
let tokens = 0

/**
 * Fibers that Troupe's own timeouts race a call in (`Actor.timeout`, refs made by `Actor.withTimeout`),
 * each with the fiber that waits for the race. Marked by identity, not through the fiber's context: a
 * fiber that the raced effect forks in turn inherits a context, but no one is known to wait for it.
 */
// Shared by every copy of Troupe in the thread: a host module may load another copy than the node's entry
// point (seen under vitest, where a worker's host module resolved `troupe` to src/ and the entry to dist/)
const racedFor: WeakMap<Fiber.Fiber<unknown, unknown>, Fiber.Fiber<unknown, unknown>> = ((globalThis as any)[
  Symbol.for("troupe/racedFor")
] ??= new WeakMap())

/** The actor whose running sequential handler is `fiber`, or waits for `fiber` (a race), if there is one. */
const handlerCellOf = (fiber: Fiber.Fiber<unknown, unknown> | undefined): Cell | undefined => {
  if (fiber === undefined) return undefined
  const cell = ownCellOf(fiber)
  if (cell !== undefined) return cell
  const waiting = racedFor.get(fiber)
  return waiting !== undefined ? ownCellOf(waiting) : undefined
}

const ownCellOf = (fiber: Fiber.Fiber<unknown, unknown>): Cell | undefined => {
  const own = Context.getOrUndefined(fiber.context, ActorContext) as { readonly cell?: unknown } | undefined
  const cell = own?.cell
  return cell instanceof Cell && cell.handler === fiber ? cell : undefined
}

/** The fiber that waits for `fiber`: the one its race was started for, or itself. */
export const waiterOf = (fiber: Fiber.Fiber<unknown, unknown> | undefined) =>
  fiber === undefined ? undefined : (racedFor.get(fiber) ?? fiber)

/**
 * Runs `race(inner)`, where `race` runs `inner` in a fiber of its own (a timeout), marking that fiber as
 * waited for by the calling fiber (or by the fiber that fiber was itself raced for), so that a call cycle
 * through it is still found.
 */
export const waitedFor = <A, E, R, B, E2, R2>(
  inner: Effect.Effect<A, E, R>,
  race: (inner: Effect.Effect<A, E, R>) => Effect.Effect<B, E2, R2>
): Effect.Effect<B, E2, R2> =>
  Effect.withFiber((caller) => {
    const waiting = waiterOf(caller)!
    return race(
      Effect.withFiber((fiber) => {
        if (fiber === caller) return inner
        racedFor.set(fiber, waiting)
        return Effect.ensuring(
          inner,
          Effect.sync(() => racedFor.delete(fiber))
        )
      })
    )
  })

/**
 * Whether `env`, just queued at `target`, waits for the handler `target` is running while that handler
 * waits, through a chain of calls, for `env`'s caller: a deadlock.
 */
export const closesCycle = (env: Envelope, target: Cell): boolean => {
  const running = target.current
  if (running === undefined || (env.state !== Queued && env.state !== Waiting)) return false
  let e = env
  for (let hops = 0; hops < MAX_CHAIN; hops++) {
    if (e.chain !== undefined) return running.token !== undefined && e.chain.includes(running.token)
    const cell = handlerCellOf(e.caller)
    if (cell === undefined) return false
    if (cell === target) return true
    e = cell.current!
    // that handler's own caller gave up on it (it is being interrupted): no one waits for it any more
    if (e.state === Cancelled) return false
  }
  return false
}

/** The chain a call made by `fiber` carries to another node: the runs waiting for it, nearest first. */
export const chainOf = (fiber: Fiber.Fiber<unknown, unknown> | undefined): Array<string> | undefined => {
  let out: Array<string> | undefined
  let f = fiber
  while (out === undefined || out.length < MAX_CHAIN) {
    const cell = handlerCellOf(f)
    if (cell === undefined) break
    const e = cell.current!
    if (e.state === Cancelled) break
    ;(out ??= []).push((e.token ??= tokenPrefix + (tokens++).toString(36)))
    if (e.chain !== undefined) {
      for (let i = 0; i < e.chain.length && out.length < MAX_CHAIN; i++) out.push(e.chain[i]!)
      break
    }
    f = e.caller
  }
  return out
}
