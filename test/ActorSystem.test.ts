import { assert, describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Latch, Layer, Ref, Schema, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { spawn as spawnProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Actor, ActorContext, ActorError, type ActorRef, ActorSystem, Supervision } from "troupe"
import { Calculator, CalculatorLive, DivideByZero } from "./fixtures/calculator.ts"

const isolated = <A, E, R>(self: Effect.Effect<A, E, R>) => self.pipe(Effect.provide(ActorSystem.layer()))

/** Restarts at once (1 ms backoff), up to 3 times. */
const quickRestarts = Supervision.restart({ maxRestarts: 3, backoff: { initial: "1 millis", jitter: false } })

/** Provides `layer` (behaviours) and an isolated system, closed when the effect ends. */
const withSystem =
  <ROut, E2, RIn>(layer: Layer.Layer<ROut, E2, RIn>) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, Exclude<R, ROut> | RIn> =>
    Effect.provide(self, Layer.merge(layer, ActorSystem.layer()))

const reasonOf = (exit: Exit.Exit<unknown, unknown>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const fail = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (fail === undefined || fail._tag !== "Fail") return "not a failure"
  const error = fail.error
  return ActorError.isActorError(error) ? error.reason._tag : (error as { _tag?: string })._tag
}

/** A protocol whose handlers can be held at a gate, to observe the mailbox while the actor is busy. */
const Gated = Actor.make("Gated", {
  hold: { payload: { tag: Schema.String }, success: Schema.String },
  holdConcurrently: { payload: { tag: Schema.String }, success: Schema.String, concurrent: true },
  note: { payload: { tag: Schema.String }, cast: true },
  echo: { payload: { tag: Schema.String }, success: Schema.String },
  log: { success: Schema.Array(Schema.String) },
  overlap: { payload: { n: Schema.Number }, success: Schema.Number },
  overlapConcurrent: { payload: { n: Schema.Number }, success: Schema.Number, concurrent: true }
})

const makeGated = Effect.gen(function* () {
  const gate = yield* Latch.make(false)
  const entered = yield* Deferred.make<void>()
  const handled = yield* Ref.make<ReadonlyArray<string>>([])
  const interrupted = yield* Ref.make<ReadonlyArray<string>>([])
  const finalized = yield* Ref.make(false)
  let inside = 0
  let maxInside = 0
  const overlapping = (n: number) =>
    Effect.gen(function* () {
      inside++
      maxInside = Math.max(maxInside, inside)
      yield* Effect.yieldNow
      yield* Effect.yieldNow
      inside--
      return n
    })
  const hold = (tag: string) =>
    Effect.gen(function* () {
      yield* Deferred.succeed(entered, undefined)
      yield* gate.await
      yield* Ref.update(handled, (h) => [...h, tag])
      return tag
    }).pipe(Effect.onInterrupt(() => Ref.update(interrupted, (h) => [...h, tag])))
  const layer = Gated.toLayer(
    Effect.gen(function* () {
      yield* Effect.addFinalizer(() => Ref.set(finalized, true))
      return Gated.of({
        hold: ({ tag }) => hold(tag),
        holdConcurrently: ({ tag }) => hold(tag),
        note: ({ tag }) => Ref.update(handled, (h) => [...h, tag]),
        echo: ({ tag }) => Ref.update(handled, (h) => [...h, tag]).pipe(Effect.as(tag)),
        log: () => Ref.get(handled),
        overlap: ({ n }) => overlapping(n),
        overlapConcurrent: ({ n }) => overlapping(n)
      })
    })
  )
  return {
    gate,
    entered,
    handled,
    interrupted,
    finalized,
    layer,
    maxInside: () => maxInside
  }
})

describe("protocol", () => {
  it("normalizes methods into kinds with Schemas", () => {
    const add = Calculator.methodMap.get("add")!
    expect(add.kind).toBe("call")
    expect(Calculator.methodMap.get("reset")!.kind).toBe("cast")
    expect(Calculator.methodMap.get("countdown")!.kind).toBe("stream")
    expect(Calculator.name).toBe("Calculator")
    expect(Calculator.key).toBe("troupe/Actor/Calculator")
  })

  it("refuses reserved method names and contradictory declarations", () => {
    expect(() => Actor.make("Bad", { id: {} })).toThrow(/reserved/)
    expect(() => Actor.make("Bad", { c: { cast: true, success: Schema.Number } })).toThrow(/cast/)
    expect(() => Actor.make("Bad", { s: { stream: Schema.Number, success: Schema.Number } })).toThrow(/stream/)
  })
})

describe("in-process actors", () => {
  it.effect("calls, casts, streams and a declared error", () =>
    Effect.gen(function* () {
      const calc = yield* Actor.spawn(Calculator, { id: "calc" })
      expect(yield* calc.add({ a: 1, b: 2 })).toBe(3)
      const error = yield* Effect.flip(calc.divide({ a: 7, b: 0 }))
      assert.instanceOf(error, DivideByZero)
      expect(error.dividend).toBe(7)
      yield* calc.record({ entry: "note" })
      expect(yield* calc.history()).toEqual(["1 + 2", "note"])
      expect(yield* calc.countdown({ from: 3 }).pipe(Stream.runCollect)).toEqual([3, 2, 1, 0])
      yield* calc.reset()
      expect(yield* calc.history()).toEqual([])
    }).pipe(Effect.provide(CalculatorLive), isolated)
  )

  it.effect("keeps arrival order across 10k messages", () =>
    Effect.gen(function* () {
      const calc = yield* Actor.spawn(Calculator, { id: "ordered" })
      for (let i = 0; i < 10_000; i++) yield* calc.record({ entry: String(i) })
      const history = yield* calc.history()
      expect(history.length).toBe(10_000)
      expect(history).toEqual(Array.from({ length: 10_000 }, (_, i) => String(i)))
    }).pipe(Effect.provide(CalculatorLive), isolated)
  )

  it.effect("keeps arrival order of messages from concurrent senders", () =>
    Effect.gen(function* () {
      const calc = yield* Actor.spawn(Calculator, { id: "senders" })
      yield* Effect.forEach(
        ["a", "b", "c"],
        (sender) =>
          Effect.forEach(
            Array.from({ length: 200 }, (_, i) => i),
            (i) => calc.record({ entry: `${sender}${i}` })
          ),
        { concurrency: "unbounded", discard: true }
      )
      const history = yield* calc.history()
      for (const sender of ["a", "b", "c"]) {
        const own = history.filter((h) => h.startsWith(sender))
        expect(own).toEqual(Array.from({ length: 200 }, (_, i) => `${sender}${i}`))
      }
    }).pipe(Effect.provide(CalculatorLive), isolated)
  )

  it.effect("handles one message at a time; a concurrent method opts out", () =>
    Effect.gen(function* () {
      const g = yield* makeGated
      yield* Effect.gen(function* () {
        const ref = yield* Actor.spawn(Gated, { id: "seq" })
        yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (n) => ref.overlap({ n }),
          {
            concurrency: "unbounded"
          }
        )
        expect(g.maxInside()).toBe(1)
        yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (n) => ref.overlapConcurrent({ n }),
          {
            concurrency: "unbounded"
          }
        )
        expect(g.maxInside()).toBeGreaterThan(1)
      }).pipe(Effect.provide(g.layer))
    }).pipe(isolated)
  )

  it.effect("overflow 'fail': a full mailbox fails the sender with MailboxFull", () =>
    Effect.gen(function* () {
      const g = yield* makeGated
      yield* Effect.gen(function* () {
        const ref = yield* Actor.spawn(Gated, { id: "full", mailbox: { capacity: 2, overflow: "fail" } })
        const first = yield* Effect.forkChild(ref.hold({ tag: "first" }), { startImmediately: true })
        yield* Deferred.await(g.entered)
        yield* ref.note({ tag: "q1" })
        yield* ref.note({ tag: "q2" })
        const refused = yield* Effect.exit(ref.note({ tag: "q3" }))
        expect(reasonOf(refused)).toBe("MailboxFull")
        expect(reasonOf(yield* Effect.exit(ref.echo({ tag: "q4" })))).toBe("MailboxFull")
        yield* g.gate.open
        expect(yield* Fiber.join(first)).toBe("first")
        yield* Actor.stop(ref) // completes once the queue is drained
        expect(yield* Ref.get(g.handled)).toEqual(["first", "q1", "q2"])
      }).pipe(Effect.provide(g.layer))
    }).pipe(isolated)
  )

  it.effect("overflow 'suspend': a sender waits for room, then is handled in order", () =>
    Effect.gen(function* () {
      const g = yield* makeGated
      yield* Effect.gen(function* () {
        const ref = yield* Actor.spawn(Gated, { id: "suspend", mailbox: { capacity: 1, overflow: "suspend" } })
        const first = yield* Effect.forkChild(ref.hold({ tag: "first" }), { startImmediately: true })
        yield* Deferred.await(g.entered)
        yield* ref.note({ tag: "q1" })
        const waiting = yield* Effect.forkChild(ref.note({ tag: "q2" }), { startImmediately: true })
        const waitingCall = yield* Effect.forkChild(ref.echo({ tag: "q3" }), { startImmediately: true })
        expect(waiting.pollUnsafe()).toBeUndefined()
        expect(waitingCall.pollUnsafe()).toBeUndefined()
        yield* g.gate.open
        yield* Fiber.join(waiting)
        expect(yield* Fiber.join(waitingCall)).toBe("q3")
        yield* Fiber.join(first)
        expect(yield* ref.log()).toEqual(["first", "q1", "q2", "q3"])
      }).pipe(Effect.provide(g.layer))
    }).pipe(isolated)
  )

  it.effect("'suspend' is the default policy", () =>
    Effect.gen(function* () {
      const g = yield* makeGated
      yield* Effect.gen(function* () {
        const ref = yield* Actor.spawn(Gated, { id: "default", mailbox: { capacity: 1 } })
        yield* Effect.forkChild(ref.hold({ tag: "first" }), { startImmediately: true })
        yield* Deferred.await(g.entered)
        yield* ref.note({ tag: "q1" })
        const waiting = yield* Effect.forkChild(ref.note({ tag: "q2" }), { startImmediately: true })
        expect(waiting.pollUnsafe()).toBeUndefined()
        yield* g.gate.open
        yield* Fiber.join(waiting)
      }).pipe(Effect.provide(g.layer))
    }).pipe(isolated)
  )

  it.effect("stop handles what was queued, refuses later sends, runs finalizers", () =>
    Effect.gen(function* () {
      const g = yield* makeGated
      yield* Effect.gen(function* () {
        const ref = yield* Actor.spawn(Gated, { id: "stopper" })
        const first = yield* Effect.forkChild(ref.hold({ tag: "first" }), { startImmediately: true })
        yield* Deferred.await(g.entered)
        const queued = yield* Effect.forkChild(ref.echo({ tag: "queued" }), { startImmediately: true })
        const stopping = yield* Effect.forkChild(Actor.stop(ref), { startImmediately: true })
        expect(reasonOf(yield* Effect.exit(ref.echo({ tag: "late" })))).toBe("Stopped")
        expect(stopping.pollUnsafe()).toBeUndefined()
        expect(yield* Ref.get(g.finalized)).toBe(false)
        yield* g.gate.open
        expect(yield* Fiber.join(first)).toBe("first")
        expect(yield* Fiber.join(queued)).toBe("queued")
        yield* Fiber.join(stopping)
        expect(yield* Ref.get(g.finalized)).toBe(true)
        expect(yield* Ref.get(g.handled)).toEqual(["first", "queued"])
        expect(reasonOf(yield* Effect.exit(Actor.lookup(Gated, "stopper")))).toBe("NotFound")
      }).pipe(Effect.provide(g.layer))
    }).pipe(isolated)
  )

  it.effect("kill fails queued messages with Killed and interrupts the running handler", () =>
    Effect.gen(function* () {
      const g = yield* makeGated
      yield* Effect.gen(function* () {
        const ref = yield* Actor.spawn(Gated, { id: "victim" })
        const first = yield* Effect.forkChild(ref.hold({ tag: "first" }), { startImmediately: true })
        yield* Deferred.await(g.entered)
        const queued = yield* Effect.forkChild(ref.echo({ tag: "queued" }), { startImmediately: true })
        yield* Actor.kill(ref)
        expect(reasonOf(yield* Fiber.await(first))).toBe("Killed")
        expect(reasonOf(yield* Fiber.await(queued))).toBe("Killed")
        expect(yield* Ref.get(g.interrupted)).toEqual(["first"])
        expect(yield* Ref.get(g.handled)).toEqual([])
        expect(yield* Ref.get(g.finalized)).toBe(true)
        expect(reasonOf(yield* Effect.exit(ref.echo({ tag: "late" })))).toBe("Stopped")
      }).pipe(Effect.provide(g.layer))
    }).pipe(isolated)
  )

  it.effect("kill reaches a handler that woke the killer before its fork returned", () =>
    Effect.gen(function* () {
      // The handler's first step completes a Deferred the test waits on, and Effect resumes a waiter
      // synchronously: the test's kill runs inside the handler's fork, before the fork has returned.
      for (const method of ["hold", "holdConcurrently"] as const) {
        const g = yield* makeGated
        yield* Effect.gen(function* () {
          const ref = yield* Actor.spawn(Gated, { id: `woken-${method}` })
          const call = yield* Effect.forkChild(ref[method]({ tag: method }))
          yield* Deferred.await(g.entered)
          yield* Actor.kill(ref)
          expect(reasonOf(yield* Fiber.await(call))).toBe("Killed")
          expect(yield* Ref.get(g.interrupted)).toEqual([method])
          expect(yield* Ref.get(g.finalized)).toBe(true)
        }).pipe(Effect.provide(g.layer))
      }
    }).pipe(isolated)
  )

  it.effect("a restart reaches a handler whose first step made another handler die", () =>
    Effect.gen(function* () {
      // wake's first step completes the Deferred that the concurrent sleeper waits on; the sleeper resumes
      // at once, inside wake's fork, and dies: supervision restarts the actor before the cell holds wake
      const Waker = Actor.make("Waker", {
        sleeper: { success: Schema.Number, concurrent: true },
        wake: { success: Schema.String }
      })
      let builds = 0
      const WakerLive = Waker.toLayer(
        Effect.gen(function* () {
          builds++
          const bell = yield* Deferred.make<void>()
          return Waker.of({
            sleeper: () => Effect.andThen(Deferred.await(bell), Effect.die("woken")),
            wake: () => Effect.as(Effect.andThen(Deferred.succeed(bell, undefined), Effect.yieldNow), "finished")
          })
        })
      )
      yield* Effect.gen(function* () {
        const ref = yield* Actor.spawn(Waker, { id: "waker", supervision: Supervision.restart({ maxRestarts: 3 }) })
        const sleeper = yield* Effect.forkChild(ref.sleeper(), { startImmediately: true })
        const exit = yield* Effect.exit(ref.wake())
        // the old behaviour's handler must not run on after the restart closed its scope
        expect(Exit.isFailure(exit)).toBe(true)
        expect(reasonOf(yield* Fiber.await(sleeper))).toBe("Defect")
        expect(builds).toBe(1) // the fresh build waits for the backoff (TestClock)
        yield* Actor.kill(ref) // not left restarting when the system closes: its stop timeout is TestClock's
      }).pipe(Effect.provide(WakerLive))
    }).pipe(isolated)
  )

  it.effect("stop and kill complete once the actor's finalizers have run; then its id is free", () =>
    Effect.gen(function* () {
      const Held = Actor.make("HeldOpen", { ping: { success: Schema.Number } })
      for (const how of ["stop", "kill"] as const) {
        const release = yield* Latch.make(false)
        let finalized = false
        const HeldLive = Held.toLayer(
          Effect.gen(function* () {
            yield* Effect.addFinalizer(() =>
              Effect.andThen(
                release.await,
                Effect.sync(() => (finalized = true))
              )
            )
            return Held.of({ ping: () => Effect.succeed(1) })
          })
        )
        yield* Effect.gen(function* () {
          const ref = yield* Actor.spawn(Held, { id: `held-${how}` })
          const end = how === "stop" ? Actor.stop(ref) : Actor.kill(ref)
          const ending = yield* Effect.forkChild(end, { startImmediately: true })
          yield* Effect.yieldNow
          expect(ending.pollUnsafe()).toBeUndefined() // its finalizer is still waiting
          expect(reasonOf(yield* Effect.exit(Actor.spawn(Held, { id: `held-${how}` })))).toBe("AlreadyExists")
          yield* release.open
          yield* Fiber.join(ending)
          expect(finalized).toBe(true)
          expect(yield* (yield* Actor.spawn(Held, { id: `held-${how}` })).ping()).toBe(1)
        }).pipe(Effect.provide(HeldLive))
      }
    }).pipe(isolated)
  )

  it.effect("a stopped id can be spawned again, with fresh state; old refs stay stopped", () =>
    Effect.gen(function* () {
      const first = yield* Actor.spawn(Calculator, { id: "again" })
      yield* first.record({ entry: "old" })
      expect(reasonOf(yield* Effect.exit(Actor.spawn(Calculator, { id: "again" })))).toBe("AlreadyExists")
      yield* Actor.stop(first)
      const second = yield* Actor.spawn(Calculator, { id: "again" })
      expect(yield* second.history()).toEqual([])
      expect(reasonOf(yield* Effect.exit(first.history()))).toBe("Stopped")
      yield* Actor.stop(first) // stopping a stopped actor succeeds
    }).pipe(Effect.provide(CalculatorLive), isolated)
  )

  it.effect("a caller interrupted while its message is queued: the message is dropped", () =>
    Effect.gen(function* () {
      const g = yield* makeGated
      yield* Effect.gen(function* () {
        const ref = yield* Actor.spawn(Gated, { id: "cancel-queued" })
        yield* Effect.forkChild(ref.hold({ tag: "first" }), { startImmediately: true })
        yield* Deferred.await(g.entered)
        const dropped = yield* Effect.forkChild(ref.echo({ tag: "dropped" }), { startImmediately: true })
        yield* Fiber.interrupt(dropped)
        yield* g.gate.open
        expect(yield* ref.echo({ tag: "after" })).toBe("after")
        expect(yield* Ref.get(g.handled)).toEqual(["first", "after"])
      }).pipe(Effect.provide(g.layer))
    }).pipe(isolated)
  )

  it.effect("a caller interrupted while its handler runs: the handler is interrupted", () =>
    Effect.gen(function* () {
      const g = yield* makeGated
      yield* Effect.gen(function* () {
        const ref = yield* Actor.spawn(Gated, { id: "cancel-running" })
        const call = yield* Effect.forkChild(ref.hold({ tag: "running" }), { startImmediately: true })
        yield* Deferred.await(g.entered)
        yield* Fiber.interrupt(call)
        expect(yield* Ref.get(g.interrupted)).toEqual(["running"])
        expect(yield* ref.echo({ tag: "next" })).toBe("next")
      }).pipe(Effect.provide(g.layer))
    }).pipe(isolated)
  )

  it.effect("get-or-spawn: concurrent requests for one id build one actor", () =>
    Effect.gen(function* () {
      const builds = yield* Ref.make(0)
      const gate = yield* Latch.make(false)
      const Counter = Actor.make("Counter", { incr: { success: Schema.Number } })
      const CounterLive = Counter.toLayer(
        Effect.gen(function* () {
          yield* Ref.update(builds, (n) => n + 1)
          yield* gate.await // an asynchronous build leaves room for a race
          const n = yield* Ref.make(0)
          return Counter.of({ incr: () => Ref.updateAndGet(n, (x) => x + 1) })
        })
      )
      yield* Effect.gen(function* () {
        const fibers = yield* Effect.forEach([1, 2, 3, 4], () =>
          Effect.forkChild(Actor.getOrSpawn(Counter, { id: "virtual" }), { startImmediately: true })
        )
        yield* gate.open
        const refs = yield* Fiber.joinAll(fibers)
        expect(yield* Ref.get(builds)).toBe(1)
        for (const ref of refs) yield* ref.incr()
        expect(yield* refs[0]!.incr()).toBe(5)
        const again = yield* Actor.getOrSpawn(Counter, { id: "virtual" })
        expect(yield* again.incr()).toBe(6)
      }).pipe(Effect.provide(CounterLive))
    }).pipe(isolated)
  )

  it.effect("lookup finds running actors and checks their protocol", () =>
    Effect.gen(function* () {
      yield* Actor.spawn(Calculator, { id: "found" })
      const ref = yield* Actor.lookup(Calculator, "found")
      expect(yield* ref.add({ a: 2, b: 2 })).toBe(4)
      expect(reasonOf(yield* Effect.exit(Actor.lookup(Calculator, "missing")))).toBe("NotFound")
      expect(reasonOf(yield* Effect.exit(Actor.lookup(Gated, "found")))).toBe("ProtocolMismatch")
      expect(reasonOf(yield* Effect.exit(Actor.getOrSpawn(Gated as any, { id: "found" })))).toBe("ProtocolMismatch")
    }).pipe(Effect.provide(CalculatorLive), isolated)
  )

  it.effect("a defect in a handler becomes ActorError Defect, with message and stack; the actor lives on", () =>
    Effect.gen(function* () {
      const calc = yield* Actor.spawn(Calculator, { id: "crashy" })
      const error = yield* Effect.flip(calc.crash({ message: "boom" }))
      assert.isTrue(ActorError.isActorError(error))
      const reason = (error as ActorError.ActorError).reason
      assert(reason._tag === "Defect")
      expect(reason.message).toBe("boom")
      expect(reason.name).toBe("Error")
      expect(reason.method).toBe("crash")
      expect(reason.stack).toContain("boom")
      expect(yield* calc.add({ a: 1, b: 1 })).toBe(2)
    }).pipe(Effect.provide(CalculatorLive), isolated)
  )

  it.effect("a failing build fails the spawn with SpawnFailed and frees the id", () =>
    Effect.gen(function* () {
      const Broken = Actor.make("Broken", { ping: {} })
      const attempts = yield* Ref.make(0)
      const BrokenLive = Broken.toLayer(
        Effect.gen(function* () {
          const n = yield* Ref.updateAndGet(attempts, (x) => x + 1)
          if (n === 1) return yield* Effect.fail("no database")
          return Broken.of({ ping: () => Effect.void })
        })
      )
      yield* Effect.gen(function* () {
        const exit = yield* Effect.exit(Actor.spawn(Broken, { id: "broken" }))
        expect(reasonOf(exit)).toBe("SpawnFailed")
        const ref = yield* Actor.spawn(Broken, { id: "broken" })
        yield* ref.ping()
      }).pipe(Effect.provide(BrokenLive))
    }).pipe(isolated)
  )

  it.effect("a failing cast is logged and the actor carries on", () =>
    Effect.gen(function* () {
      const Flaky = Actor.make("Flaky", { poke: { cast: true }, count: { success: Schema.Number } })
      const FlakyLive = Flaky.toLayer(
        Effect.gen(function* () {
          const n = yield* Ref.make(0)
          return Flaky.of({
            poke: () => Ref.update(n, (x) => x + 1).pipe(Effect.andThen(Effect.die("cast failed"))),
            count: () => Ref.get(n)
          })
        })
      )
      yield* Effect.gen(function* () {
        const ref = yield* Actor.spawn(Flaky, { id: "flaky" })
        yield* ref.poke()
        yield* ref.poke()
        expect(yield* ref.count()).toBe(2)
      }).pipe(Effect.provide(FlakyLive))
    }).pipe(isolated)
  )
})

describe("plain-class behaviours", () => {
  const Account = Actor.make("Account", {
    deposit: { payload: { amount: Schema.Number }, success: Schema.Number },
    balanceLater: { success: Schema.Number },
    fail: { success: Schema.Number },
    reject: { success: Schema.Number },
    audit: { cast: true },
    history: { stream: Schema.Number }
  })

  class AccountImpl {
    private balance = 0
    private audits = 0
    private readonly deposits: Array<number> = []
    deposit({ amount }: { amount: number }) {
      this.balance += amount
      this.deposits.push(amount)
      return this.balance
    }
    balanceLater() {
      return Promise.resolve(this.balance + this.audits * 1000)
    }
    fail(): number {
      throw new TypeError("thrown from a class")
    }
    reject(): Promise<number> {
      return Promise.reject(new RangeError("rejected from a class"))
    }
    audit() {
      this.audits++
    }
    async *history() {
      for (const d of this.deposits) yield d
    }
  }

  const AccountLive = Account.toLayer(() => new AccountImpl())

  it.effect("methods returning values, Promises and iterables; this is bound", () =>
    Effect.gen(function* () {
      const acct = yield* Actor.spawn(Account, { id: "acct" })
      expect(yield* acct.deposit({ amount: 5 })).toBe(5)
      expect(yield* acct.deposit({ amount: 7 })).toBe(12)
      yield* acct.audit()
      expect(yield* acct.balanceLater()).toBe(1012)
      expect(yield* acct.history().pipe(Stream.runCollect)).toEqual([5, 7])
    }).pipe(Effect.provide(AccountLive), isolated)
  )

  it.effect("a thrown exception and a rejected Promise become Defects", () =>
    Effect.gen(function* () {
      const acct = yield* Actor.spawn(Account, { id: "acct" })
      const thrown = yield* Effect.flip(acct.fail())
      const rejected = yield* Effect.flip(acct.reject())
      assert(thrown.reason._tag === "Defect" && rejected.reason._tag === "Defect")
      expect([thrown.reason.name, thrown.reason.message]).toEqual(["TypeError", "thrown from a class"])
      expect([rejected.reason.name, rejected.reason.message]).toEqual(["RangeError", "rejected from a class"])
      expect(yield* acct.deposit({ amount: 1 })).toBe(1)
    }).pipe(Effect.provide(AccountLive), isolated)
  )

  it.effect("each spawn gets a fresh instance", () =>
    Effect.gen(function* () {
      const a = yield* Actor.spawn(Account, { id: "a" })
      const b = yield* Actor.spawn(Account, { id: "b" })
      yield* a.deposit({ amount: 10 })
      expect(yield* b.deposit({ amount: 1 })).toBe(1)
    }).pipe(Effect.provide(AccountLive), isolated)
  )
})

describe("streams", () => {
  const Ticker = Actor.make("Ticker", {
    ticks: { stream: Schema.Number },
    stopped: { success: Schema.Boolean },
    failing: { stream: Schema.Number, error: DivideByZero }
  })

  it.effect("leaving a stream on the caller's side stops the producer", () =>
    Effect.gen(function* () {
      const producerStopped = yield* Deferred.make<void>()
      const TickerLive = Ticker.toLayer(
        Effect.succeed(
          Ticker.of({
            ticks: () =>
              Stream.iterate(0, (n) => n + 1).pipe(Stream.ensuring(Deferred.succeed(producerStopped, undefined))),
            stopped: () => Deferred.isDone(producerStopped),
            failing: () => Stream.make(1, 2).pipe(Stream.concat(Stream.fail(new DivideByZero({ dividend: 3 }))))
          })
        )
      )
      yield* Effect.gen(function* () {
        const ticker = yield* Actor.spawn(Ticker, { id: "ticker" })
        expect(yield* ticker.ticks().pipe(Stream.take(5), Stream.runCollect)).toEqual([0, 1, 2, 3, 4])
        yield* Deferred.await(producerStopped)
        expect(yield* ticker.stopped()).toBe(true)
      }).pipe(Effect.provide(TickerLive))
    }).pipe(isolated)
  )

  it.effect("interrupting the consumer fiber interrupts the producer", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const producerStopped = yield* Deferred.make<void>()
      const TickerLive = Ticker.toLayer(
        Effect.succeed(
          Ticker.of({
            ticks: () =>
              Stream.fromEffect(Deferred.succeed(started, undefined)).pipe(
                Stream.flatMap(() => Stream.never),
                Stream.ensuring(Deferred.succeed(producerStopped, undefined))
              ) as Stream.Stream<number>,
            stopped: () => Deferred.isDone(producerStopped),
            failing: () => Stream.empty
          })
        )
      )
      yield* Effect.gen(function* () {
        const ticker = yield* Actor.spawn(Ticker, { id: "ticker" })
        const consumer = yield* Effect.forkChild(Stream.runDrain(ticker.ticks()), { startImmediately: true })
        yield* Deferred.await(started)
        yield* Fiber.interrupt(consumer)
        yield* Deferred.await(producerStopped)
      }).pipe(Effect.provide(TickerLive))
    }).pipe(isolated)
  )

  it.effect("a stream's declared error arrives typed after its elements", () =>
    Effect.gen(function* () {
      const TickerLive = Ticker.toLayer(
        Effect.succeed(
          Ticker.of({
            ticks: () => Stream.empty,
            stopped: () => Effect.succeed(false),
            failing: () => Stream.make(1, 2).pipe(Stream.concat(Stream.fail(new DivideByZero({ dividend: 3 }))))
          })
        )
      )
      yield* Effect.gen(function* () {
        const ticker = yield* Actor.spawn(Ticker, { id: "ticker" })
        const seen: Array<number> = []
        const error = yield* ticker.failing().pipe(
          Stream.runForEach((n) => Effect.sync(() => seen.push(n))),
          Effect.flip
        )
        expect(seen).toEqual([1, 2])
        assert.instanceOf(error, DivideByZero)
      }).pipe(Effect.provide(TickerLive))
    }).pipe(isolated)
  )
})

describe("actors talking to actors", () => {
  const Greeter = Actor.make("Greeter", {
    greet: { payload: { name: Schema.String }, success: Schema.String },
    whoAmI: { success: Schema.String },
    quit: { cast: true }
  })
  const Front = Actor.make("Front", {
    relay: { payload: { name: Schema.String }, success: Schema.String }
  })
  const GreeterLive = Greeter.toLayer(
    Effect.gen(function* () {
      const ctx = yield* ActorContext
      return Greeter.of({
        greet: ({ name }) => Effect.succeed(`hello ${name} from ${ctx.id}`),
        whoAmI: () => Effect.map(Greeter.self, (self) => self.id),
        quit: () => ctx.stop
      })
    })
  )
  const FrontLive = Front.toLayer(
    Effect.succeed(
      Front.of({
        relay: ({ name }) =>
          Effect.gen(function* () {
            const greeter = yield* Actor.getOrSpawn(Greeter, { id: "greeter" })
            return yield* greeter.greet({ name })
          })
      })
    )
  ).pipe(Layer.provide(GreeterLive))

  it.effect("a handler spawns and calls another actor; the actor knows its own id and ref", () =>
    Effect.gen(function* () {
      const front = yield* Actor.spawn(Front, { id: "front" })
      expect(yield* front.relay({ name: "Ada" })).toBe("hello Ada from greeter")
      const greeter = yield* Actor.lookup(Greeter, "greeter")
      expect(yield* greeter.whoAmI()).toBe("greeter")
    }).pipe(Effect.provide(Layer.merge(FrontLive, GreeterLive)), isolated)
  )

  it.effect("an actor can send itself the poison pill", () =>
    Effect.gen(function* () {
      const greeter = yield* Actor.spawn(Greeter, { id: "quitter" })
      yield* greeter.quit()
      expect(reasonOf(yield* Effect.exit(greeter.greet({ name: "x" })))).toBe("Stopped")
    }).pipe(Effect.provide(GreeterLive), isolated)
  )
})

describe("call cycles", () => {
  /**
   * `ask` calls the peer's `answer` (under Actor.timeout when `patient`); `answer` calls back `ping` on
   * the asker, which waits behind the asker's handler. `hang` calls the peer's `stall`, which never
   * answers and, when interrupted, calls back `ping` from its finalizer.
   */
  const Peer = Actor.make("CyclePeer", {
    ask: { payload: { peer: Schema.Unknown, patient: Schema.Boolean }, success: Schema.String },
    answer: { payload: { peer: Schema.Unknown }, success: Schema.String },
    ping: { success: Schema.String },
    hang: { payload: { peer: Schema.Unknown } },
    /** Pings itself under Actor.timeout: how it is refused. */
    selfPatient: { success: Schema.String },
    /** Forks a detached ping to itself under Actor.timeout, and returns without waiting for it. */
    detached: {},
    stall: { payload: { peer: Schema.Unknown } }
  })
  type PeerRef = ActorRef.ActorRef<typeof Peer>
  const outcome = (self: Effect.Effect<string, ActorError.ActorError>) =>
    Effect.catch(self, (e) => Effect.succeed(ActorError.isActorError(e) ? e.reason._tag : String(e)))
  const layer = (
    release: Deferred.Deferred<void>,
    late: Deferred.Deferred<string>,
    stalled: Deferred.Deferred<void>,
    pinging: Deferred.Deferred<void>
  ) =>
    Peer.toLayer(
      Effect.gen(function* () {
        const ctx = yield* ActorContext
        return Peer.of({
          ask: ({ peer, patient }) => {
            const call = (peer as PeerRef).answer({ peer: ctx.self })
            return patient ? call.pipe(Actor.timeout("20 seconds")) : call
          },
          answer: ({ peer }) => outcome((peer as PeerRef).ping()),
          ping: () => Effect.succeed("pong"),
          selfPatient: () =>
            (ctx.self as PeerRef).ping().pipe(
              Actor.timeout("20 seconds"),
              Effect.catchReason("ActorError", "Deadlock", (d) =>
                Effect.succeed(d.cycle === true ? "Deadlock (cycle)" : "Deadlock")
              )
            ),
          detached: () =>
            Effect.asVoid(
              Effect.forkDetach(
                Effect.flatMap(outcome((ctx.self as PeerRef).ping()), (o) => Deferred.succeed(late, o)),
                { startImmediately: true }
              ).pipe(Actor.timeout("20 seconds"))
            ),
          // interrupted (its caller gave up), it holds its actor until released
          hang: ({ peer }) =>
            (peer as PeerRef).stall({ peer: ctx.self }).pipe(Effect.onInterrupt(() => Deferred.await(release))),
          stall: ({ peer }) =>
            Deferred.succeed(stalled, undefined).pipe(
              Effect.andThen(Effect.never),
              Effect.onInterrupt(() =>
                Effect.andThen(Deferred.succeed(pinging, undefined), outcome((peer as PeerRef).ping())).pipe(
                  Effect.flatMap((o) => Deferred.succeed(late, o))
                )
              )
            )
        })
      })
    )

  it.effect("A calls B, whose handler calls A: refused with Deadlock (cycle), also under Actor.timeout", () =>
    Effect.gen(function* () {
      const a = yield* Actor.spawn(Peer, { id: "a" })
      const b = yield* Actor.spawn(Peer, { id: "b" })
      expect(yield* a.ask({ peer: b, patient: false })).toBe("Deadlock")
      expect(yield* a.ask({ peer: b, patient: true })).toBe("Deadlock")
      expect(yield* Actor.withTimeout(a, "20 seconds").ping()).toBe("pong")
      // its own actor, under a timeout: refused as a call to self, not as a cycle through others
      expect(yield* a.selfPatient()).toBe("Deadlock")
      // not a cycle: b's call back to a comes from outside any waiting handler
      expect(yield* outcome(b.answer({ peer: a }))).toBe("pong")
    }).pipe(
      Effect.provide(layer(Deferred.makeUnsafe(), Deferred.makeUnsafe(), Deferred.makeUnsafe(), Deferred.makeUnsafe())),
      isolated
    )
  )

  it.effect("a fiber forked under Actor.timeout is not taken for one the handler waits for", () =>
    Effect.gen(function* () {
      const late = yield* Deferred.make<string>()
      yield* Effect.gen(function* () {
        const t = yield* Actor.spawn(Peer, { id: "t" })
        yield* t.detached() // its ping is queued behind this very call, which does not wait for it
        expect(yield* Deferred.await(late)).toBe("pong")
      }).pipe(Effect.provide(layer(Deferred.makeUnsafe(), late, Deferred.makeUnsafe(), Deferred.makeUnsafe())))
    }).pipe(isolated)
  )

  it.effect("a call from a handler whose caller gave up is not refused: no one waits for it any more", () =>
    Effect.gen(function* () {
      const release = yield* Deferred.make<void>()
      const late = yield* Deferred.make<string>()
      const stalled = yield* Deferred.make<void>()
      const pinging = yield* Deferred.make<void>()
      yield* Effect.gen(function* () {
        const t = yield* Actor.spawn(Peer, { id: "t" })
        const x = yield* Actor.spawn(Peer, { id: "x" })
        const call = yield* Effect.forkChild(t.hang({ peer: x }), { startImmediately: true })
        yield* Deferred.await(stalled)
        // t's handler is interrupted and waits in its finalizer; x's handler, interrupted with it, calls t
        yield* Fiber.interrupt(call)
        yield* Deferred.await(pinging) // its call to t is queued (or refused) by now
        yield* Deferred.succeed(release, undefined)
        expect(yield* Deferred.await(late)).toBe("pong")
      }).pipe(Effect.provide(layer(release, late, stalled, pinging)))
    }).pipe(isolated)
  )
})

describe("actors as services", () => {
  it.effect("Protocol.layer provides a ref as the protocol's service and stops the actor on release", () =>
    Effect.gen(function* () {
      const program = Effect.gen(function* () {
        const calc = yield* Calculator
        return yield* calc.add({ a: 20, b: 22 })
      })
      const result = yield* program.pipe(
        Effect.provide(Calculator.layer({ id: "service" }).pipe(Layer.provide(CalculatorLive)))
      )
      expect(result).toBe(42)
      expect(reasonOf(yield* Effect.exit(Actor.lookup(Calculator, "service")))).toBe("NotFound")
    }).pipe(isolated)
  )

  it.effect("Protocol.layer takes a supervision policy: the service's ref outlives a defect", () =>
    Effect.gen(function* () {
      const program = Effect.gen(function* () {
        const calc = yield* Calculator
        yield* calc.add({ a: 1, b: 1 })
        expect(reasonOf(yield* Effect.exit(calc.crash({ message: "boom" })))).toBe("Defect")
        yield* TestClock.adjust("1 millis") // the restart's backoff
        expect(yield* calc.history()).toEqual([]) // restarted: fresh state, same ref
        return yield* calc.add({ a: 20, b: 22 })
      })
      const service = Calculator.layer({
        id: "supervised",
        supervision: quickRestarts
      })
      expect(yield* program.pipe(Effect.provide(service.pipe(Layer.provide(CalculatorLive))))).toBe(42)
    }).pipe(isolated)
  )
})

describe("timeouts", () => {
  const Slow = Actor.make("Slow", { never: { success: Schema.Number }, quick: { success: Schema.Number } })

  it.effect("Actor.timeout fails a call with Timeout and interrupts its handler", () =>
    Effect.gen(function* () {
      const interrupted = yield* Deferred.make<void>()
      const SlowLive = Slow.toLayer(
        Effect.succeed(
          Slow.of({
            never: () => Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))),
            quick: () => Effect.succeed(1)
          })
        )
      )
      yield* Effect.gen(function* () {
        const slow = yield* Actor.spawn(Slow, { id: "slow" })
        const call = yield* Effect.forkChild(slow.never().pipe(Actor.timeout("1 second")), { startImmediately: true })
        yield* TestClock.adjust("1 second")
        const exit = yield* Fiber.await(call)
        expect(reasonOf(exit)).toBe("Timeout")
        yield* Deferred.await(interrupted)
        expect(yield* slow.quick()).toBe(1)

        const bounded = Actor.withTimeout(slow, "2 seconds")
        const call2 = yield* Effect.forkChild(bounded.never(), { startImmediately: true })
        yield* TestClock.adjust("2 seconds")
        const error = yield* Effect.flip(Fiber.join(call2))
        assert(error.reason._tag === "Timeout")
        expect(error.reason.method).toBe("never")
        expect(error.reason.millis).toBe(2000)
      }).pipe(Effect.provide(SlowLive))
    }).pipe(isolated)
  )
})

describe("timers", () => {
  const Heart = Actor.make("Heart", { beat: { cast: true }, beats: { success: Schema.Number } })
  // the idiom docs/guide.md shows: a loop forked into the actor's scope casts to the actor itself, so
  // each tick is a message handled in order with the others, and the loop ends with the actor
  let timers = 0
  const HeartLive = Heart.toLayer(
    Effect.gen(function* () {
      const self = yield* Heart.self
      timers++
      yield* self
        .beat()
        .pipe(
          Effect.delay("1 second"),
          Effect.forever,
          Effect.ignore,
          Effect.ensuring(Effect.sync(() => timers--)),
          Effect.forkScoped({ startImmediately: true })
        )
      let beats = 0
      return Heart.of({ beat: () => Effect.sync(() => void beats++), beats: () => Effect.sync(() => beats) })
    })
  )

  it.effect("a timer in the actor's scope ticks as messages, and stops with the actor", () =>
    Effect.gen(function* () {
      const heart = yield* Actor.spawn(Heart, { id: "heart" })
      expect(yield* heart.beats()).toBe(0)
      yield* TestClock.adjust("3 seconds")
      expect(yield* heart.beats()).toBe(3)
      yield* Actor.stop(heart)
      expect(timers).toBe(0)
      const again = yield* Actor.spawn(Heart, { id: "heart" })
      yield* TestClock.adjust("2 seconds")
      expect(yield* again.beats()).toBe(2) // a fresh actor, a fresh timer: the old one ended with its actor
    }).pipe(Effect.provide(HeartLive), isolated)
  )
})

describe("serialize-messages test mode", () => {
  const Strict = Actor.make("Strict", {
    wrong: { success: Schema.Number },
    mutate: { payload: { items: Schema.Array(Schema.Number) }, success: Schema.Number },
    stamp: { payload: { at: Schema.Date, bytes: Schema.Uint8Array, big: Schema.BigInt }, success: Schema.String }
  })
  const StrictLive = Strict.toLayer(
    Effect.succeed(
      Strict.of({
        wrong: () => Effect.succeed("not a number" as unknown as number),
        mutate: ({ items }) => Effect.sync(() => ((items as Array<number>).push(99), items.length)),
        stamp: ({ at, bytes, big }) => Effect.succeed(`${at.getTime()}:${bytes.join(",")}:${big}`)
      })
    )
  )

  it.effect("without it, a reply that breaks its Schema passes unnoticed", () =>
    Effect.gen(function* () {
      const strict = yield* Actor.spawn(Strict, { id: "strict" })
      expect(yield* strict.wrong()).toBe("not a number")
      const items = [1, 2]
      yield* strict.mutate({ items })
      expect(items).toEqual([1, 2, 99]) // the handler touched the caller's array
    }).pipe(Effect.provide(StrictLive), isolated)
  )

  it.effect("with it, the same reply fails with DecodeError and payloads are copies", () =>
    Effect.gen(function* () {
      const strict = yield* Actor.spawn(Strict, { id: "strict" })
      const error = yield* Effect.flip(strict.wrong())
      assert(ActorError.isActorError(error) && error.reason._tag === "DecodeError")
      expect(error.reason.method).toBe("wrong")
      expect(error.reason.part).toBe("success")
      expect(error.reason.message).toContain("Expected number")
      const items = [1, 2]
      expect(yield* strict.mutate({ items })).toBe(3)
      expect(items).toEqual([1, 2])
      const stamp = yield* strict.stamp({ at: new Date(5), bytes: new Uint8Array([1, 2]), big: 7n })
      expect(stamp).toBe("5:1,2:7")
    }).pipe(Effect.provide(Layer.merge(StrictLive, ActorSystem.layer({ serializeMessages: true }))))
  )

  it.effect("declared errors, defects and streams keep their types through the codec", () =>
    Effect.gen(function* () {
      const calc = yield* Actor.spawn(Calculator, { id: "calc" })
      assert.instanceOf(yield* Effect.flip(calc.divide({ a: 1, b: 0 })), DivideByZero)
      const defect = yield* Effect.flip(calc.crash({ message: "over the wire" }))
      assert(ActorError.isActorError(defect) && defect.reason._tag === "Defect")
      expect(defect.reason.message).toBe("over the wire")
      expect(yield* calc.countdown({ from: 2 }).pipe(Stream.runCollect)).toEqual([2, 1, 0])
    }).pipe(Effect.provide(Layer.merge(CalculatorLive, ActorSystem.layer({ serializeMessages: true }))))
  )
})

describe("the system", () => {
  it.effect("closing an isolated system's scope stops its actors and runs their finalizers", () =>
    Effect.gen(function* () {
      const g = yield* makeGated
      yield* Effect.gen(function* () {
        yield* Actor.spawn(Gated, { id: "one" })
        yield* Actor.spawn(Gated, { id: "two" })
      }).pipe(withSystem(g.layer))
      expect(yield* Ref.get(g.finalized)).toBe(true)
    })
  )

  it.effect("closing a system kills, after stopTimeout, a handler that does not finish; its caller hears Killed", () =>
    Effect.gen(function* () {
      const g = yield* makeGated
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Layer.mergeAll(g.layer, CalculatorLive, ActorSystem.layer({ stopTimeout: 500 })),
        scope
      )
      const { held, ended } = yield* Effect.gen(function* () {
        const actor = yield* Actor.spawn(Gated, { id: "stuck" })
        const calculators = yield* Effect.forEach([1, 2, 3], (i) => Actor.spawn(Calculator, { id: `calc-${i}` }))
        const ended = yield* Effect.forkChild(
          Effect.forEach([actor, ...calculators], (ref) => Actor.watch(ref), { concurrency: "unbounded" }),
          { startImmediately: true }
        )
        return { held: yield* Effect.forkChild(actor.hold({ tag: "never released" })), ended }
      }).pipe(Effect.provide(context))
      yield* Deferred.await(g.entered)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("499 millis")
      expect(closing.pollUnsafe()).toBeUndefined() // still stopping gracefully
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(closing)
      const error = yield* Effect.flip(Fiber.join(held))
      assert(ActorError.isActorError(error))
      expect(error.reason._tag).toBe("Killed")
      expect(yield* Ref.get(g.finalized)).toBe(true)
      expect(yield* Ref.get(g.interrupted)).toEqual(["never released"])
      // only the actor still running at the deadline is killed; the others had stopped gracefully
      expect((yield* Fiber.join(ended)).map((t) => t._tag)).toEqual(["Killed", "Stopped", "Stopped", "Stopped"])
    })
  )

  describe("passivation (idleTimeout)", () => {
    const Session = Actor.make("Session", {
      touch: { cast: true },
      count: { success: Schema.Number },
      hold: {},
      feed: { stream: Schema.Number }
    })
    const makeSessions = Effect.gen(function* () {
      const builds = yield* Ref.make(0)
      const ended = yield* Ref.make(0)
      const gate = yield* Latch.make(false)
      const feeding = yield* Deferred.make<void>()
      const layer = Session.toLayer(
        Effect.gen(function* () {
          yield* Ref.update(builds, (n) => n + 1)
          yield* Effect.addFinalizer(() => Ref.update(ended, (n) => n + 1))
          const touches = yield* Ref.make(0)
          return Session.of({
            touch: () => Ref.update(touches, (n) => n + 1),
            count: () => Ref.get(touches),
            hold: () => gate.await,
            feed: () =>
              Stream.fromEffect(Deferred.succeed(feeding, undefined)).pipe(
                Stream.flatMap(() => Stream.fromEffect(gate.await)),
                Stream.as(1)
              )
          })
        })
      )
      return { builds, ended, gate, feeding, layer }
    })
    // read off the system, not by a lookup: a lookup that finds the actor counts as use
    const alive = (id: string) =>
      Effect.gen(function* () {
        return (yield* ActorSystem.ActorSystem).cellOf(id)?.isAccepting === true
      })

    it.effect(
      "an actor idle for its timeout stops gracefully; a message puts that off; getOrSpawn builds it afresh",
      () =>
        Effect.gen(function* () {
          const s = yield* makeSessions
          yield* Effect.gen(function* () {
            const session = yield* Actor.getOrSpawn(Session, { id: "s", idleTimeout: "1 second" })
            const ended = yield* Effect.forkChild(Actor.watch(session), { startImmediately: true })
            yield* TestClock.adjust("600 millis")
            yield* session.touch()
            yield* TestClock.adjust("1 second") // 1 s after spawning, but 400 ms after the last message
            expect(yield* alive("s")).toBe(true)
            expect(yield* session.count()).toBe(1)
            yield* TestClock.adjust("1 second") // 1 s since the last message, to the next quarter
            expect(yield* alive("s")).toBe(true)
            yield* TestClock.adjust("250 millis")
            expect((yield* Fiber.join(ended))._tag).toBe("Stopped")
            expect(yield* Ref.get(s.ended)).toBe(1) // finalizers ran
            expect(reasonOf(yield* Effect.exit(session.count()))).toBe("Stopped")
            const again = yield* Actor.getOrSpawn(Session, { id: "s", idleTimeout: "1 second" })
            expect(yield* again.count()).toBe(0) // a fresh actor
            expect(yield* Ref.get(s.builds)).toBe(2)
            yield* Actor.stop(again)
          }).pipe(withSystem(s.layer))
        })
    )

    it.effect("a handler still running, or a stream still being read, keeps the actor from passivating", () =>
      Effect.gen(function* () {
        const s = yield* makeSessions
        yield* Effect.gen(function* () {
          const busy = yield* Actor.spawn(Session, { id: "busy", idleTimeout: "1 second" })
          const feeder = yield* Actor.spawn(Session, { id: "feeder", idleTimeout: "1 second" })
          const held = yield* Effect.forkChild(busy.hold(), { startImmediately: true })
          const read = yield* Effect.forkChild(Stream.runCollect(feeder.feed()), { startImmediately: true })
          yield* Deferred.await(s.feeding)
          yield* TestClock.adjust("10 seconds")
          expect(yield* alive("busy")).toBe(true)
          expect(yield* alive("feeder")).toBe(true)
          yield* s.gate.open
          yield* Fiber.join(held)
          expect(yield* Fiber.join(read)).toEqual([1])
          // the idle time counts from the end of the work, not from the last message
          yield* TestClock.adjust("999 millis")
          expect(yield* alive("busy")).toBe(true)
          expect(yield* alive("feeder")).toBe(true)
          yield* TestClock.adjust("251 millis")
          expect(yield* alive("busy")).toBe(false)
          expect(yield* alive("feeder")).toBe(false)
        }).pipe(withSystem(s.layer))
      })
    )

    it.effect("getOrSpawn of an actor still running its finalizers waits for them, then spawns afresh", () =>
      Effect.gen(function* () {
        const release = yield* Latch.make(false)
        const SlowEnd = Gated.toLayer(
          Effect.gen(function* () {
            yield* Effect.addFinalizer(() => release.await)
            return Gated.of({
              hold: ({ tag }) => Effect.succeed(tag),
              holdConcurrently: ({ tag }) => Effect.succeed(tag),
              note: () => Effect.void,
              echo: ({ tag }) => Effect.succeed(tag),
              log: () => Effect.succeed([]),
              overlap: ({ n }) => Effect.succeed(n),
              overlapConcurrent: ({ n }) => Effect.succeed(n)
            })
          })
        )
        yield* Effect.gen(function* () {
          const first = yield* Actor.getOrSpawn(Gated, { id: "g", idleTimeout: "1 second" })
          const ended = yield* Effect.forkChild(Actor.watch(first), { startImmediately: true })
          yield* TestClock.adjust("1 second") // passivating: held in its finalizer
          expect(ended.pollUnsafe()).toBeUndefined()
          const second = yield* Effect.forkChild(Actor.getOrSpawn(Gated, { id: "g" }), { startImmediately: true })
          yield* Effect.yieldNow
          expect(second.pollUnsafe()).toBeUndefined() // not the actor on its way out
          yield* release.open
          const fresh = yield* Fiber.join(second)
          expect(yield* fresh.echo({ tag: "fresh" })).toBe("fresh")
          expect(reasonOf(yield* Effect.exit(first.echo({ tag: "old" })))).toBe("Stopped")
          yield* Actor.stop(fresh)
        }).pipe(
          Effect.ensuring(release.open), // a failed expectation must not leave the system's close waiting
          withSystem(SlowEnd)
        )
      })
    )

    it.effect("a getOrSpawn or lookup that finds the actor counts as use", () =>
      Effect.gen(function* () {
        const s = yield* makeSessions
        yield* Effect.gen(function* () {
          yield* Actor.getOrSpawn(Session, { id: "s", idleTimeout: "1 second" })
          yield* TestClock.adjust("900 millis")
          const found = yield* Actor.getOrSpawn(Session, { id: "s", idleTimeout: "1 second" })
          yield* TestClock.adjust("850 millis") // 1.75 s after the spawn, 850 ms after the getOrSpawn
          expect(yield* found.count()).toBe(0) // still the same actor
          yield* TestClock.adjust("1 second")
          yield* Actor.lookup(Session, "s")
          yield* TestClock.adjust("999 millis")
          expect(yield* alive("s")).toBe(true)
          yield* TestClock.adjust("251 millis")
          expect(yield* alive("s")).toBe(false)
        }).pipe(withSystem(s.layer))
      })
    )

    it.effect("an actor that gets-or-spawns itself while stopping is told Stopped at once, not left waiting", () =>
      Effect.gen(function* () {
        const seen = yield* Ref.make<ReadonlyArray<string>>([])
        const go = yield* Latch.make(false)
        const Phoenix = Actor.make("Phoenix", { ping: {} })
        const PhoenixLive = Phoenix.toLayer(
          Effect.gen(function* () {
            const self = yield* ActorContext
            const system = yield* ActorSystem.ActorSystem
            // the behaviour is not needed to find that the id's actor is this one, stopping
            const again = system.getOrSpawnFrom(Phoenix, undefined, { id: self.id }).pipe(
              Effect.as("respawned"),
              Effect.catchTag("ActorError", (e) => Effect.succeed(e.reason._tag))
            )
            yield* Effect.addFinalizer(() =>
              Effect.flatMap(again, (r) => Ref.update(seen, (l) => [...l, `finalizer: ${r}`]))
            )
            return Phoenix.of({
              ping: () =>
                go.await.pipe(
                  Effect.andThen(again),
                  Effect.flatMap((r) => Ref.update(seen, (l) => [...l, `handler: ${r}`]))
                )
            })
          })
        )
        yield* Effect.gen(function* () {
          const phoenix = yield* Actor.spawn(Phoenix, { id: "phoenix" })
          const ping = yield* Effect.forkChild(phoenix.ping(), { startImmediately: true }) // running at the stop
          const stopping = yield* Effect.forkChild(Actor.stop(phoenix), { startImmediately: true })
          yield* go.open
          yield* Fiber.join(ping)
          yield* Fiber.join(stopping)
          expect(yield* Ref.get(seen)).toEqual(["handler: Stopped", "finalizer: Stopped"])
        }).pipe(withSystem(PhoenixLive))
      })
    )

    it.effect("a getOrSpawn waiting for a stopping actor as its system closes spawns nothing", () =>
      Effect.gen(function* () {
        const release = yield* Latch.make(false)
        const Held = Actor.make("Held", { ping: { success: Schema.String } })
        const HeldLive = Held.toLayer(
          Effect.gen(function* () {
            yield* Effect.addFinalizer(() => release.await)
            return Held.of({ ping: () => Effect.succeed("pong") })
          })
        )
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(Layer.merge(HeldLive, ActorSystem.layer()), scope)
        const system = yield* Effect.gen(function* () {
          return yield* ActorSystem.ActorSystem
        }).pipe(Effect.provide(context))
        const waiting = yield* Effect.gen(function* () {
          const held = yield* Actor.spawn(Held, { id: "held" })
          yield* Effect.forkChild(Actor.stop(held), { startImmediately: true })
          return yield* Effect.forkChild(Actor.getOrSpawn(Held, { id: "held" }), { startImmediately: true })
        }).pipe(Effect.provide(context))
        const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
        yield* release.open
        expect(reasonOf(yield* Fiber.await(waiting))).toBe("Stopped")
        yield* Fiber.join(closing)
        expect(system.ids()).toEqual([])
      })
    )

    it.live("the sweep's timer does not keep a finished program's process up", () =>
      Effect.gen(function* () {
        const child = spawnProcess(
          process.execPath,
          [fileURLToPath(new URL("./fixtures/idle-exit.ts", import.meta.url))],
          {
            stdio: ["ignore", "pipe", "inherit"]
          }
        )
        let out = ""
        child.stdout!.on("data", (d) => (out += d))
        const code = yield* Effect.callback<number | null>((resume) => {
          child.once("exit", (c) => resume(Effect.succeed(c)))
          return Effect.sync(() => child.kill("SIGKILL"))
        }).pipe(Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.succeed("still running") }))
        expect(code).toBe(0)
        expect(out.trim()).toBe("noted")
      })
    )

    it.effect("an idleTimeout that is not a positive duration is a defect at spawn", () =>
      Effect.gen(function* () {
        const s = yield* makeSessions
        const exit = yield* Effect.exit(
          Actor.spawn(Session, { id: "bad", idleTimeout: "0 millis" }).pipe(withSystem(s.layer))
        )
        assert(Exit.isFailure(exit))
        expect(String(Cause.squash(exit.cause))).toContain("idleTimeout must be between 1 ms")
        expect(yield* Ref.get(s.builds)).toBe(0)
      })
    )
  })

  describe("child actors (Actor.spawnScoped)", () => {
    const Child = Actor.make("Child", { incr: { success: Schema.Number } })
    const Parent = Actor.make("Parent", {
      viaChild: { success: Schema.Number },
      crash: {}
    })
    const makeFamily = Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const note = (entry: string) => Ref.update(log, (l) => [...l, entry])
      const ChildLive = Child.toLayer(
        Effect.gen(function* () {
          const n = yield* Ref.make(0)
          yield* Effect.addFinalizer(() => note("child stopped"))
          return Child.of({ incr: () => Ref.updateAndGet(n, (x) => x + 1) })
        })
      )
      const ParentLive = Parent.toLayer(
        Effect.gen(function* () {
          const self = yield* ActorContext
          // the parent's build runs in the parent's scope: the child lives as long as this incarnation
          const child = yield* Actor.spawnScoped(Child, { id: `${self.id}/child` })
          yield* note("parent built")
          yield* Effect.addFinalizer(() => note("parent stopped"))
          return Parent.of({ viaChild: () => child.incr(), crash: () => Effect.die("boom") })
        })
      )
      return { log, layer: Layer.merge(ChildLive, ParentLive.pipe(Layer.provide(ChildLive))) }
    })

    it.effect("a child stops with its parent, before the parent's stop completes", () =>
      Effect.gen(function* () {
        const family = yield* makeFamily
        yield* Effect.gen(function* () {
          const parent = yield* Actor.spawn(Parent, { id: "p" })
          expect(yield* parent.viaChild()).toBe(1)
          const child = yield* Actor.lookup(Child, "p/child")
          const childEnded = yield* Effect.forkChild(Actor.watch(child), { startImmediately: true })
          yield* Actor.stop(parent)
          // finalizers run in reverse order: the parent's own, then the child's stop, awaited
          expect(yield* Ref.get(family.log)).toEqual(["parent built", "parent stopped", "child stopped"])
          expect((yield* Fiber.join(childEnded))._tag).toBe("Stopped")
          expect(reasonOf(yield* Effect.exit(Actor.lookup(Child, "p/child")))).toBe("NotFound")
        }).pipe(withSystem(family.layer))
      })
    )

    it.effect("a restart of the parent stops its child and builds a fresh one under the same id", () =>
      Effect.gen(function* () {
        const family = yield* makeFamily
        yield* Effect.gen(function* () {
          const parent = yield* Actor.spawn(Parent, {
            id: "p",
            supervision: quickRestarts
          })
          expect(yield* parent.viaChild()).toBe(1)
          expect(yield* parent.viaChild()).toBe(2)
          expect(reasonOf(yield* Effect.exit(parent.crash()))).toBe("Defect")
          yield* TestClock.adjust("1 millis")
          expect(yield* parent.viaChild()).toBe(1) // a new child: its count starts again
          expect(yield* Ref.get(family.log)).toEqual([
            "parent built",
            "parent stopped",
            "child stopped",
            "parent built"
          ])
          yield* Actor.stop(parent)
        }).pipe(withSystem(family.layer))
      })
    )

    describe("a child that fails for good fails its parent (escalation)", () => {
      const Leaf = Actor.make("Leaf", { crash: {}, ping: { success: Schema.String } })
      const Branch = Actor.make("Branch", { leafPing: { success: Schema.String }, builds: { success: Schema.Number } })
      const makeTree = Effect.gen(function* () {
        const builds = yield* Ref.make(0)
        const LeafLive = Leaf.toLayer(
          Effect.succeed(Leaf.of({ crash: () => Effect.die("leaf broke"), ping: () => Effect.succeed("leaf") }))
        )
        const BranchLive = Branch.toLayer(
          Effect.gen(function* () {
            const n = yield* Ref.updateAndGet(builds, (x) => x + 1)
            // the leaf's own policy gives up at its first defect
            const leaf = yield* Actor.spawnScoped(Leaf, { id: "leaf", supervision: Supervision.stop })
            return Branch.of({ leafPing: () => leaf.ping(), builds: () => Effect.succeed(n) })
          })
        ).pipe(Layer.provide(LeafLive))
        return { builds, layer: Layer.merge(LeafLive, BranchLive) }
      })
      const leafCrashes = Effect.gen(function* () {
        const leaf = yield* Actor.lookup(Leaf, "leaf")
        yield* Effect.exit(leaf.crash())
      })

      it.effect("a restarting parent is restarted, with a fresh child", () =>
        Effect.gen(function* () {
          const tree = yield* makeTree
          yield* Effect.gen(function* () {
            const branch = yield* Actor.spawn(Branch, {
              id: "branch",
              supervision: quickRestarts
            })
            expect(yield* branch.builds()).toBe(1)
            yield* leafCrashes
            yield* TestClock.adjust("1 millis")
            expect(yield* branch.builds()).toBe(2)
            expect(yield* branch.leafPing()).toBe("leaf") // the new child
            yield* Actor.stop(branch)
          }).pipe(withSystem(tree.layer))
        })
      )

      it.effect("a parent whose policy is stop ends Failed, naming the child", () =>
        Effect.gen(function* () {
          const tree = yield* makeTree
          yield* Effect.gen(function* () {
            const branch = yield* Actor.spawn(Branch, { id: "branch", supervision: Supervision.stop })
            const ended = yield* Effect.forkChild(Actor.watch(branch), { startImmediately: true })
            yield* leafCrashes
            const termination = yield* Fiber.join(ended)
            assert(termination._tag === "Failed")
            expect(termination.error.reason._tag).toBe("Defect")
            expect(termination.error.message).toContain("child actor leaf failed for good")
          }).pipe(withSystem(tree.layer))
        })
      )

      it.effect("a child that fails while its parent builds escalates once the build is done", () =>
        Effect.gen(function* () {
          const tree = yield* makeTree
          const release = yield* Latch.make(false)
          const Eager = Actor.make("Eager", { ping: {} })
          const EagerLive = Eager.toLayer(
            Effect.gen(function* () {
              const leaf = yield* Actor.spawnScoped(Leaf, { id: "eager-leaf", supervision: Supervision.stop })
              yield* Effect.exit(leaf.crash()) // the leaf gives up while this build still runs
              yield* release.await
              return Eager.of({ ping: () => Effect.void })
            })
          )
          yield* Effect.gen(function* () {
            const spawning = yield* Effect.forkChild(
              Actor.spawn(Eager, { id: "eager", supervision: Supervision.stop }),
              {
                startImmediately: true
              }
            )
            yield* Effect.yieldNow
            yield* release.open
            const eager = yield* Fiber.join(spawning)
            const ended = yield* Actor.watch(eager)
            assert(ended._tag === "Failed")
            expect(ended.error.message).toContain("child actor eager-leaf failed for good")
          }).pipe(withSystem(EagerLive.pipe(Layer.provideMerge(tree.layer))))
        })
      )

      it.effect("a child that fails while a restart rebuilds its parent escalates once that build is done", () =>
        Effect.gen(function* () {
          const tree = yield* makeTree
          const builds = yield* Ref.make(0)
          const Moody = Actor.make("Moody", { builds: { success: Schema.Number } })
          const MoodyLive = Moody.toLayer(
            Effect.gen(function* () {
              const n = yield* Ref.updateAndGet(builds, (x) => x + 1)
              const leaf = yield* Actor.spawnScoped(Leaf, { id: "moody-leaf", supervision: Supervision.stop })
              if (n <= 2) yield* Effect.exit(leaf.crash()) // builds 1 and 2 lose their leaf while building
              return Moody.of({ builds: () => Effect.succeed(n) })
            })
          )
          yield* Effect.gen(function* () {
            const moody = yield* Actor.spawn(Moody, {
              id: "moody",
              supervision: Supervision.restart({ maxRestarts: 5, backoff: { initial: "1 millis", jitter: false } })
            })
            yield* TestClock.adjust("1 millis")
            yield* TestClock.adjust("2 millis")
            expect(yield* moody.builds()).toBe(3)
            yield* Actor.stop(moody)
          }).pipe(withSystem(MoodyLive.pipe(Layer.provideMerge(tree.layer))))
        })
      )

      it.effect("a child in a handler's own scope belongs to that work: its failure does not escalate", () =>
        Effect.gen(function* () {
          const tree = yield* makeTree
          const Worky = Actor.make("Worky", { work: { success: Schema.String } })
          const WorkyLive = Worky.toLayer(
            Effect.succeed(
              Worky.of({
                work: () =>
                  Effect.scoped(
                    Effect.gen(function* () {
                      const leaf = yield* Actor.spawnScoped(Leaf, { id: "temp-leaf", supervision: Supervision.stop })
                      yield* Effect.exit(leaf.crash())
                      yield* Effect.exit(Actor.watch(leaf)) // the leaf has ended Failed, still in this scope
                      yield* Effect.sleep("5 millis") // time for any escalation to land
                      return "handled"
                    })
                  )
              })
            )
          )
          yield* Effect.gen(function* () {
            const worky = yield* Actor.spawn(Worky, { id: "worky", supervision: Supervision.stop })
            const work = Effect.gen(function* () {
              const working = yield* Effect.forkChild(worky.work(), { startImmediately: true })
              yield* TestClock.adjust("5 millis")
              return yield* Fiber.join(working)
            })
            expect(yield* work).toBe("handled")
            expect(yield* work).toBe("handled") // still alive
          }).pipe(withSystem(WorkyLive.pipe(Layer.provideMerge(tree.layer))))
        })
      )

      it.effect("a parent that resumes (the default) carries on; a child stopped by its parent escalates nothing", () =>
        Effect.gen(function* () {
          const tree = yield* makeTree
          yield* Effect.gen(function* () {
            const resuming = yield* Actor.spawn(Branch, { id: "branch" })
            yield* leafCrashes
            expect(yield* resuming.builds()).toBe(1)
            expect(reasonOf(yield* Effect.exit(resuming.leafPing()))).toBe("Stopped")
            yield* Actor.stop(resuming)
            const strict = yield* Actor.spawn(Branch, { id: "strict", supervision: Supervision.stop })
            const ended = yield* Effect.forkChild(Actor.watch(strict), { startImmediately: true })
            yield* Actor.stop(strict) // its scope stops the child: not a failure
            expect((yield* Fiber.join(ended))._tag).toBe("Stopped")
          }).pipe(withSystem(tree.layer))
        })
      )
    })

    it.effect("a spawnScoped given up on while the actor builds ends there, and kills the actor", () =>
      Effect.gen(function* () {
        const built = yield* Latch.make(false)
        const Slow = Actor.make("Slow", { ping: { success: Schema.String } })
        const SlowLive = Slow.toLayer(
          Effect.gen(function* () {
            yield* built.await // a build that does not finish
            return Slow.of({ ping: () => Effect.succeed("pong") })
          })
        )
        yield* Effect.gen(function* () {
          const attempt = yield* Effect.forkChild(
            Effect.scoped(Actor.spawnScoped(Slow, { id: "slow" }).pipe(Effect.timeout("100 millis"))),
            { startImmediately: true }
          )
          yield* TestClock.adjust("100 millis")
          const exit = yield* Fiber.await(attempt)
          assert(Exit.isFailure(exit))
          expect(reasonOf(exit)).toBe("TimeoutError")
          expect(reasonOf(yield* Effect.exit(Actor.lookup(Slow, "slow")))).toBe("NotFound")
        }).pipe(withSystem(SlowLive))
      })
    )

    it.effect("a scoped actor whose handler never ends is killed after the system's stopTimeout", () =>
      Effect.gen(function* () {
        const g = yield* makeGated
        yield* Effect.gen(function* () {
          const scope = yield* Scope.make()
          const stuck = yield* Actor.spawnScoped(Gated, { id: "stuck" }).pipe(Scope.provide(scope))
          const held = yield* Effect.forkChild(stuck.hold({ tag: "never released" }))
          yield* Deferred.await(g.entered)
          const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
          yield* TestClock.adjust("499 millis")
          expect(closing.pollUnsafe()).toBeUndefined() // still stopping gracefully
          yield* TestClock.adjust("1 millis")
          yield* Fiber.join(closing)
          expect(reasonOf(yield* Fiber.await(held))).toBe("Killed")
          expect(yield* Ref.get(g.finalized)).toBe(true)
        }).pipe(Effect.provide(Layer.merge(g.layer, ActorSystem.layer({ stopTimeout: 500 }))))
      })
    )
  })

  it.effect("closing a system gives finalizers still running at stopTimeout a second stopTimeout", () =>
    Effect.gen(function* () {
      const done = yield* Ref.make(false)
      const Slow = Actor.make("SlowEnd", { ping: {} })
      const SlowLive = Slow.toLayer(
        Effect.gen(function* () {
          yield* Effect.addFinalizer(() => Effect.sleep("750 millis").pipe(Effect.andThen(Ref.set(done, true))))
          return Slow.of({ ping: () => Effect.void })
        })
      )
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Layer.merge(SlowLive, ActorSystem.layer({ stopTimeout: 500 })), scope)
      yield* Actor.spawn(Slow, { id: "slow" }).pipe(Effect.provide(context))
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
      yield* TestClock.adjust("600 millis")
      expect(closing.pollUnsafe()).toBeUndefined() // past the first stopTimeout, the finalizer still runs
      yield* TestClock.adjust("150 millis")
      yield* Fiber.join(closing)
      expect(yield* Ref.get(done)).toBe(true)
    })
  )

  it.effect("the default system is process-wide", () =>
    Effect.gen(function* () {
      const id = `global-${Math.random()}`
      yield* Actor.spawn(Calculator, { id }).pipe(Effect.provide(CalculatorLive))
      const found = yield* Actor.lookup(Calculator, id)
      expect(yield* found.add({ a: 1, b: 1 })).toBe(2)
      yield* Actor.stop(found)
    })
  )
})
