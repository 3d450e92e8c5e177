/**
 * Supervision and death watch of in-process actors, driven by the TestClock: restarts with fresh state
 * after a backoff, restart intensity and escalation, the three policies, and watch notices.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Deferred, type Duration, Effect, Fiber, Layer, Ref, Schedule, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Actor, ActorSystem, Supervision } from "troupe"
import { reasonOf } from "./spec/behaviour.ts"

const Fragile = Actor.make("Fragile", {
  incr: { success: Schema.Number },
  crash: { success: Schema.Number },
  crashCast: { cast: true },
  failCast: { cast: true, error: Schema.String }
})

/** A counter that can be made to die; counts builds and finalizers so tests see restarts. */
const makeFragile = (options?: { readonly failBuildsAfter?: number }) =>
  Effect.gen(function* () {
    const builds = yield* Ref.make(0)
    const finalized = yield* Ref.make(0)
    const layer = Fragile.toLayer(
      Effect.gen(function* () {
        const n = yield* Ref.updateAndGet(builds, (b) => b + 1)
        if (options?.failBuildsAfter !== undefined && n > options.failBuildsAfter) {
          return yield* Effect.die(new Error(`build ${n} failed`))
        }
        yield* Effect.addFinalizer(() => Ref.update(finalized, (f) => f + 1))
        const count = yield* Ref.make(0)
        return Fragile.of({
          incr: () => Ref.updateAndGet(count, (c) => c + 1),
          crash: () => Effect.die(new Error("boom")),
          crashCast: () => Effect.die(new Error("cast boom")),
          failCast: () => Effect.fail("a typed cast failure")
        })
      })
    )
    return { builds, finalized, layer }
  })

const noJitter = (initial: Duration.Input): Supervision.Backoff => ({
  initial,
  factor: 2,
  max: "10 seconds",
  jitter: false
})

const isolated = <A, E, R>(self: Effect.Effect<A, E, R>) => self.pipe(Effect.provide(ActorSystem.layer()))

describe("supervision", () => {
  it.effect("resume (the default): the caller gets the Defect, the actor keeps its state", () =>
    Effect.gen(function* () {
      const f = yield* makeFragile()
      yield* Effect.gen(function* () {
        const actor = yield* Actor.spawn(Fragile, { id: "resume" })
        yield* actor.incr()
        expect(reasonOf(yield* Effect.exit(actor.crash()))).toBe("Defect")
        expect(yield* actor.incr()).toBe(2)
        expect(yield* Ref.get(f.builds)).toBe(1)
      }).pipe(Effect.provide(f.layer))
    }).pipe(isolated)
  )

  it.effect("restart: after the backoff the behaviour is built again with fresh state; the mailbox waits", () =>
    Effect.gen(function* () {
      const f = yield* makeFragile()
      yield* Effect.gen(function* () {
        const actor = yield* Actor.spawn(Fragile, {
          id: "restart",
          supervision: Supervision.restart({ backoff: noJitter("1 second") })
        })
        yield* actor.incr()
        yield* actor.incr()
        expect(reasonOf(yield* Effect.exit(actor.crash()))).toBe("Defect")
        expect(yield* Ref.get(f.finalized)).toBe(1) // the old state's finalizer ran
        const probe = yield* Effect.forkChild(actor.incr(), { startImmediately: true })
        yield* TestClock.adjust("999 millis")
        expect(probe.pollUnsafe()).toBeUndefined() // still in the backoff
        yield* TestClock.adjust("1 millis")
        expect(yield* Fiber.join(probe)).toBe(1) // fresh state
        expect(yield* Ref.get(f.builds)).toBe(2)
      }).pipe(Effect.provide(f.layer))
    }).pipe(isolated)
  )

  it.effect("restart intensity: past maxRestarts within the window the actor stops and watchers learn why", () =>
    Effect.gen(function* () {
      const f = yield* makeFragile()
      yield* Effect.gen(function* () {
        const actor = yield* Actor.spawn(Fragile, {
          id: "intense",
          supervision: Supervision.restart({ maxRestarts: 1, within: "5 seconds", backoff: noJitter("10 millis") })
        })
        const watcher = yield* Effect.forkChild(Actor.watch(actor), { startImmediately: true })
        yield* actor.crash().pipe(Effect.exit)
        yield* TestClock.adjust("10 millis")
        expect(yield* actor.incr()).toBe(1) // restarted once
        yield* actor.crash().pipe(Effect.exit)
        const ended = yield* Fiber.join(watcher)
        assert(ended._tag === "Failed")
        assert(ended.error.reason._tag === "Defect")
        expect(ended.error.reason.message).toBe("boom")
        expect(reasonOf(yield* Effect.exit(actor.incr()))).toBe("Stopped")
        // watching after the end still gets the reason
        expect((yield* Actor.watch(actor))._tag).toBe("Failed")
      }).pipe(Effect.provide(f.layer))
    }).pipe(isolated)
  )

  it.effect("the intensity window slides: failures far apart keep restarting", () =>
    Effect.gen(function* () {
      const f = yield* makeFragile()
      yield* Effect.gen(function* () {
        const actor = yield* Actor.spawn(Fragile, {
          id: "sliding",
          supervision: Supervision.restart({ maxRestarts: 1, within: "5 seconds", backoff: noJitter("10 millis") })
        })
        for (let i = 0; i < 4; i++) {
          yield* actor.crash().pipe(Effect.exit)
          yield* TestClock.adjust("6 seconds")
          expect(yield* actor.incr()).toBe(1)
        }
        expect(yield* Ref.get(f.builds)).toBe(5)
      }).pipe(Effect.provide(f.layer))
    }).pipe(isolated)
  )

  it.effect("a dying cast and a failing cast both count as failures", () =>
    Effect.gen(function* () {
      const f = yield* makeFragile()
      yield* Effect.gen(function* () {
        const actor = yield* Actor.spawn(Fragile, {
          id: "casts",
          supervision: Supervision.restart({ maxRestarts: 5, backoff: noJitter("10 millis") })
        })
        yield* actor.incr()
        yield* actor.crashCast()
        yield* TestClock.adjust("10 millis")
        expect(yield* actor.incr()).toBe(1)
        yield* actor.incr()
        yield* actor.failCast()
        yield* TestClock.adjust("20 millis")
        expect(yield* actor.incr()).toBe(1)
        expect(yield* Ref.get(f.builds)).toBe(3)
      }).pipe(Effect.provide(f.layer))
    }).pipe(isolated)
  )

  it.effect("stop: the first failure ends the actor with Failed", () =>
    Effect.gen(function* () {
      const f = yield* makeFragile()
      yield* Effect.gen(function* () {
        const actor = yield* Actor.spawn(Fragile, { id: "stopper", supervision: Supervision.stop })
        yield* actor.crash().pipe(Effect.exit)
        const ended = yield* Actor.watch(actor)
        expect(ended._tag).toBe("Failed")
        expect(yield* Ref.get(f.finalized)).toBe(1)
      }).pipe(Effect.provide(f.layer))
    }).pipe(isolated)
  )

  it.effect("a restart whose build fails counts too; the actor ends when the policy gives up", () =>
    Effect.gen(function* () {
      const f = yield* makeFragile({ failBuildsAfter: 1 })
      yield* Effect.gen(function* () {
        const actor = yield* Actor.spawn(Fragile, {
          id: "rebuild",
          supervision: Supervision.restart({ maxRestarts: 3, within: "1 minute", backoff: noJitter("10 millis") })
        })
        const watcher = yield* Effect.forkChild(Actor.watch(actor), { startImmediately: true })
        yield* actor.crash().pipe(Effect.exit)
        yield* TestClock.adjust("1 second")
        const ended = yield* Fiber.join(watcher)
        assert(ended._tag === "Failed")
        expect(ended.error.reason._tag).toBe("SpawnFailed")
        expect(yield* Ref.get(f.builds)).toBe(4) // the first build and three failed restarts
      }).pipe(Effect.provide(f.layer))
    }).pipe(isolated)
  )

  it.effect("restarts follow a given Schedule, and stop when it ends", () =>
    Effect.gen(function* () {
      const f = yield* makeFragile()
      yield* Effect.gen(function* () {
        const actor = yield* Actor.spawn(Fragile, {
          id: "scheduled",
          supervision: Supervision.restart({
            maxRestarts: 100,
            schedule: Schedule.spaced("3 seconds").pipe(Schedule.upTo({ times: 2 }))
          })
        })
        const watcher = yield* Effect.forkChild(Actor.watch(actor), { startImmediately: true })
        for (let i = 0; i < 2; i++) {
          yield* actor.crash().pipe(Effect.exit)
          yield* TestClock.adjust("3 seconds")
          expect(yield* actor.incr()).toBe(1)
        }
        yield* actor.crash().pipe(Effect.exit) // the Schedule allows no third restart
        yield* TestClock.adjust("3 seconds")
        expect((yield* Fiber.join(watcher))._tag).toBe("Failed")
      }).pipe(Effect.provide(f.layer))
    }).pipe(isolated)
  )
})

describe("death watch", () => {
  it.effect("one notice per watch, with the reason: Stopped, Killed; also for an actor already gone", () =>
    Effect.gen(function* () {
      const f = yield* makeFragile()
      yield* Effect.gen(function* () {
        const a = yield* Actor.spawn(Fragile, { id: "a" })
        const b = yield* Actor.spawn(Fragile, { id: "b" })
        const watchA = yield* Effect.forkChild(Actor.watch(a), { startImmediately: true })
        const watchB = yield* Effect.forkChild(Actor.watch(b), { startImmediately: true })
        expect(watchA.pollUnsafe()).toBeUndefined()
        yield* Actor.stop(a)
        yield* Actor.kill(b)
        expect((yield* Fiber.join(watchA))._tag).toBe("Stopped")
        expect((yield* Fiber.join(watchB))._tag).toBe("Killed")
        expect((yield* Actor.watch(a))._tag).toBe("Stopped")
        expect((yield* Actor.watch(b))._tag).toBe("Killed")
      }).pipe(Effect.provide(f.layer))
    }).pipe(isolated)
  )

  it.effect("an actor can watch another from a handler", () =>
    Effect.gen(function* () {
      const f = yield* makeFragile()
      const heard = yield* Deferred.make<string>()
      const Watcher = Actor.make("Watcher", { watch: { payload: { id: Schema.String } } })
      const WatcherLive = Watcher.toLayer(
        Effect.succeed(
          Watcher.of({
            watch: ({ id }) =>
              Effect.gen(function* () {
                const target = yield* Actor.lookup(Fragile, id)
                yield* Actor.watch(target).pipe(
                  Effect.flatMap((t) => Deferred.succeed(heard, t._tag)),
                  Effect.forkScoped
                )
              })
          })
        )
      )
      yield* Effect.gen(function* () {
        const target = yield* Actor.spawn(Fragile, { id: "watched", supervision: Supervision.stop })
        const watcher = yield* Actor.spawn(Watcher, { id: "watcher" })
        yield* watcher.watch({ id: "watched" })
        yield* target.crash().pipe(Effect.exit)
        expect(yield* Deferred.await(heard)).toBe("Failed")
      }).pipe(Effect.provide(Layer.merge(f.layer, WatcherLive)))
    }).pipe(isolated)
  )
})
