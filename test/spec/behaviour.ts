/**
 * The behavioural spec: one set of tests that every backend runs unchanged (in-process, worker
 * threads, child processes, and TCP next). It is the proof that the ActorRef API is the same wherever
 * the actor lives.
 */
import { assert, expect, layer } from "@effect/vitest"
import { Chunk, DateTime, Duration, Effect, Exit, Fiber, HashMap, type Layer, Option, type Scope, Stream } from "effect"
import { Actor, ActorError, type ActorRef, ActorSystem, type Protocol } from "troupe"
import { CAST_WINDOW } from "../../src/internal/wire/frame.ts"
import { DivideByZero, Gate, Person, Worker } from "../fixtures/spec-actors.ts"

export const reasonOf = (exit: Exit.Exit<unknown, unknown>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const fail = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (fail === undefined || fail._tag !== "Fail") return "not a failure"
  const error = fail.error
  return ActorError.isActorError(error) ? error.reason._tag : (error as { _tag?: string })._tag
}

/** Bounds a wait in a test so that a broken feature fails instead of hanging. */
const bounded = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  self.pipe(Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die("the wait timed out") }))

/** Polls (bounded) until `check` holds: for state that changes on another node. */
const until = (check: Effect.Effect<boolean, unknown>) =>
  bounded(
    Effect.gen(function* () {
      while (!(yield* check)) yield* Effect.sleep("5 millis")
    })
  )

export interface SpecOptions {
  /** The Layer that provides the backend (and, in-process, the behaviours). Built once per run. */
  readonly layer: Layer.Layer<any, any>
  /** The backend's service key; undefined for in-process. */
  readonly backend: Actor.BackendKey | undefined
}

/** Runs the behavioural spec against one backend. */
export const behaviourSpec = (label: string, options: SpecOptions) => {
  let counter = 0
  // ids and latch names are unique across spec runs: in-process runs share one module of latches
  const run = `${label.replace(/\W+/g, "-")}`
  const fresh = (prefix: string) => `${prefix}-${run}-${++counter}`
  const spawn = <P extends Protocol.Protocol.Any>(protocol: P, id: string) =>
    Actor.spawn(protocol, { id, backend: options.backend }) as Effect.Effect<
      ActorRef.ActorRef<P>,
      ActorError.ActorError
    >
  const getOrSpawn = <P extends Protocol.Protocol.Any>(protocol: P, id: string) =>
    Actor.getOrSpawn(protocol, { id, backend: options.backend }) as Effect.Effect<
      ActorRef.ActorRef<P>,
      ActorError.ActorError
    >
  const lookup = <P extends Protocol.Protocol.Any>(protocol: P, id: string) =>
    Actor.lookup(protocol, id, { backend: options.backend }) as Effect.Effect<
      ActorRef.ActorRef<P>,
      ActorError.ActorError
    >
  /** The gate actor lives on the same node as the actors it observes. */
  const gate = Effect.suspend(() => getOrSpawn(Gate, "gate"))

  layer(options.layer, { timeout: 60_000, excludeTestServices: true })(`behaviour spec: ${label}`, (it) => {
    it.effect("spawn, call, cast and the same ref on lookup", () =>
      Effect.gen(function* () {
        const id = fresh("calc")
        const calc = yield* spawn(Worker, id)
        expect(calc.id).toBe(id)
        expect(yield* calc.add({ a: 20, b: 22 })).toBe(42)
        yield* calc.record({ entry: "cast" })
        expect(yield* calc.history()).toEqual(["cast"])
        const found = yield* lookup(Worker, id)
        expect(yield* found.whoAmI()).toBe(id)
        expect(reasonOf(yield* Effect.exit(spawn(Worker, id)))).toBe("AlreadyExists")
        expect(reasonOf(yield* Effect.exit(lookup(Worker, fresh("missing"))))).toBe("NotFound")
      })
    )

    it.effect("a declared error arrives typed; a defect arrives as ActorError Defect with its stack", () =>
      Effect.gen(function* () {
        const calc = yield* spawn(Worker, fresh("errors"))
        const error = yield* Effect.flip(calc.divide({ a: 7, b: 0 }))
        assert.instanceOf(error, DivideByZero)
        expect(error.dividend).toBe(7)
        const defect = yield* Effect.flip(calc.crash({ message: "boom" }))
        assert(ActorError.isActorError(defect) && defect.reason._tag === "Defect")
        expect(defect.reason.name).toBe("RangeError")
        expect(defect.reason.message).toBe("boom")
        expect(defect.reason.stack).toContain("boom")
        expect(yield* calc.add({ a: 1, b: 1 })).toBe(2)
      })
    )

    it.effect("streams: elements in order, a typed failure after them, and early exit stops the producer", () =>
      Effect.gen(function* () {
        const calc = yield* spawn(Worker, fresh("streams"))
        expect(yield* calc.countdown({ from: 4 }).pipe(Stream.runCollect)).toEqual([4, 3, 2, 1, 0])
        const seen: Array<number> = []
        const error = yield* calc.failingStream().pipe(
          Stream.runForEach((n) => Effect.sync(() => seen.push(n))),
          Effect.flip
        )
        expect(seen).toEqual([1, 2])
        assert.instanceOf(error, DivideByZero)
        const name = fresh("naturals")
        const first = yield* calc.naturals({ name }).pipe(Stream.take(1000), Stream.runCollect)
        expect(first).toEqual(Array.from({ length: 1000 }, (_, i) => i))
        const g = yield* gate
        yield* bounded(g.await({ name: `stream-stopped:${name}` }))
      })
    )

    it.effect("interrupting the consumer of a stream stops the producer", () =>
      Effect.gen(function* () {
        const calc = yield* spawn(Worker, fresh("interrupt-stream"))
        const name = fresh("endless")
        const consumer = yield* Effect.forkChild(Stream.runDrain(calc.naturals({ name })), { startImmediately: true })
        const g = yield* gate
        yield* bounded(g.await({ name: `stream-started:${name}` }))
        yield* Fiber.interrupt(consumer)
        yield* bounded(g.await({ name: `stream-stopped:${name}` }))
      })
    )

    it.effect("interrupting a caller stops its handler", () =>
      Effect.gen(function* () {
        const calc = yield* spawn(Worker, fresh("interrupt-call"))
        const g = yield* gate
        const name = fresh("held")
        const call = yield* Effect.forkChild(calc.hold({ gate: name, tag: "held" }), { startImmediately: true })
        yield* bounded(g.await({ name: `entered:${name}` }))
        yield* Fiber.interrupt(call)
        yield* bounded(g.await({ name: `interrupted:${name}` }))
        expect(yield* calc.add({ a: 2, b: 3 })).toBe(5)
      })
    )

    it.effect("stop handles what was queued, refuses later messages, and runs finalizers", () =>
      Effect.gen(function* () {
        const id = fresh("stop")
        const calc = yield* spawn(Worker, id)
        const g = yield* gate
        const name = fresh("stop-gate")
        const held = yield* Effect.forkChild(calc.hold({ gate: name, tag: "first" }), { startImmediately: true })
        yield* bounded(g.await({ name: `entered:${name}` }))
        const queued = yield* Effect.forkChild(calc.hold({ gate: name, tag: "queued" }), { startImmediately: true })
        yield* calc.record({ entry: "cast-before-stop" })
        const stopping = yield* Effect.forkChild(Actor.stop(calc), { startImmediately: true })
        // the stop request is behind the queued messages on the same link, so this call sees it
        expect(yield* g.isOpen({ name: `finalized:${id}` })).toBe(false)
        yield* g.open({ name })
        expect(yield* bounded(Fiber.join(held))).toBe("first")
        expect(yield* bounded(Fiber.join(queued))).toBe("queued")
        yield* bounded(Fiber.join(stopping))
        expect(yield* g.isOpen({ name: `finalized:${id}` })).toBe(true)
        expect(reasonOf(yield* Effect.exit(calc.add({ a: 1, b: 1 })))).toBe("Stopped")
        const again = yield* spawn(Worker, id)
        expect(yield* again.history()).toEqual([])
        // the old ref names the stopped incarnation: it never reaches the new actor
        expect(reasonOf(yield* Effect.exit(calc.history()))).toBe("Stopped")
      })
    )

    it.effect("kill fails what was queued with Killed and interrupts the running handler", () =>
      Effect.gen(function* () {
        const id = fresh("kill")
        const calc = yield* spawn(Worker, id)
        const g = yield* gate
        const name = fresh("kill-gate")
        const held = yield* Effect.forkChild(calc.hold({ gate: name, tag: "first" }), { startImmediately: true })
        yield* bounded(g.await({ name: `entered:${name}` }))
        const queued = yield* Effect.forkChild(calc.hold({ gate: name, tag: "queued" }), { startImmediately: true })
        yield* calc.record({ entry: "never handled" })
        yield* Actor.kill(calc)
        expect(reasonOf(yield* bounded(Fiber.await(held)))).toBe("Killed")
        expect(reasonOf(yield* bounded(Fiber.await(queued)))).toBe("Killed")
        expect(yield* g.isOpen({ name: `interrupted:${name}` })).toBe(true)
        expect(yield* g.isOpen({ name: `finalized:${id}` })).toBe(true)
      })
    )

    it.effect("an actor spawned into a scope is stopped when the scope closes", () =>
      Effect.gen(function* () {
        const id = fresh("scoped")
        const g = yield* gate
        yield* Effect.scoped(
          Effect.gen(function* () {
            const calc = yield* Actor.spawnScoped(Worker, { id, backend: options.backend }) as Effect.Effect<
              ActorRef.ActorRef<typeof Worker>,
              ActorError.ActorError,
              Scope.Scope
            >
            expect(yield* calc.add({ a: 1, b: 2 })).toBe(3)
          })
        )
        expect(yield* g.isOpen({ name: `finalized:${id}` })).toBe(true)
        expect(reasonOf(yield* Effect.exit(lookup(Worker, id)))).toBe("NotFound")
      })
    )

    it.effect("a spawnScoped given up on while the actor builds leaves no actor behind", () =>
      Effect.gen(function* () {
        const id = `held-build:${fresh("scoped")}`
        const exit = yield* Effect.exit(
          Effect.scoped(
            (
              Actor.spawnScoped(Worker, { id, backend: options.backend }) as Effect.Effect<
                ActorRef.ActorRef<typeof Worker>,
                ActorError.ActorError,
                Scope.Scope
              >
            ).pipe(Effect.timeout("200 millis"))
          )
        )
        expect(reasonOf(exit)).toBe("TimeoutError")
        yield* until(Effect.map(Effect.exit(lookup(Worker, id)), (e) => reasonOf(e) === "NotFound"))
      })
    )

    it.effect("an actor idle for its idleTimeout stops gracefully; get-or-spawn then builds it afresh", () =>
      Effect.gen(function* () {
        const g = yield* gate
        const spawnOptions = { id: fresh("idle"), backend: options.backend, idleTimeout: "100 millis" as const }
        const getIdle = Actor.getOrSpawn(Worker, spawnOptions) as Effect.Effect<
          ActorRef.ActorRef<typeof Worker>,
          ActorError.ActorError
        >
        const session = yield* getIdle
        yield* session.record({ entry: "kept until passivated" })
        expect(yield* session.history()).toEqual(["kept until passivated"])
        expect((yield* bounded(Actor.watch(session)))._tag).toBe("Stopped")
        expect(yield* g.isOpen({ name: `finalized:${spawnOptions.id}` })).toBe(true)
        expect(reasonOf(yield* Effect.exit(session.history()))).toBe("Stopped")
        const again = yield* getIdle
        expect(yield* again.history()).toEqual([])
        yield* Actor.stop(again)
      })
    )

    it.effect("get-or-spawn: concurrent requests for one id build one actor", () =>
      Effect.gen(function* () {
        const probe = yield* spawn(Worker, fresh("probe"))
        const before = yield* probe.builds()
        const id = fresh("virtual")
        const refs = yield* Effect.all([getOrSpawn(Worker, id), getOrSpawn(Worker, id), getOrSpawn(Worker, id)], {
          concurrency: "unbounded"
        })
        expect((yield* probe.builds()) - before).toBe(1)
        yield* refs[0].record({ entry: "one" })
        yield* refs[1].record({ entry: "two" })
        expect(yield* refs[2].history()).toEqual(["one", "two"])
      })
    )

    it.effect("a handler calling its own actor fails with Deadlock instead of waiting for itself", () =>
      Effect.gen(function* () {
        const id = fresh("selfish")
        const calc = yield* spawn(Worker, id)
        const error = yield* bounded(Effect.flip(calc.callSelf({ concurrent: false })))
        assert(ActorError.isActorError(error) && error.reason._tag === "Deadlock")
        expect([error.reason.actorId, error.reason.method]).toEqual([id, "add"])
        // a concurrent method too: nothing starts while a sequential handler runs (arrival order)
        const concurrent = yield* bounded(Effect.flip(calc.callSelf({ concurrent: true })))
        assert(ActorError.isActorError(concurrent) && concurrent.reason._tag === "Deadlock")
        yield* calc.castSelf({ entry: "to myself" }) // so is a cast: handled after this message
        expect(yield* calc.history()).toEqual(["to myself"])
        expect(yield* calc.add({ a: 2, b: 2 })).toBe(4) // the actor carries on
      })
    )

    it.effect("a flood of casts to a full mailbox waits for room instead of growing it", () =>
      Effect.gen(function* () {
        const capacity = 8
        const calc = (yield* Actor.spawn(Worker, {
          id: fresh("flooded"),
          backend: options.backend,
          mailbox: { capacity }
        })) as ActorRef.ActorRef<typeof Worker>
        const name = fresh("flood-gate")
        const held = yield* Effect.forkChild(calc.hold({ gate: name, tag: "held" }))
        yield* until((yield* gate).isOpen({ name: `entered:${name}` }))
        // in-process the caster waits for room; over a link it waits once a window of casts is
        // unacknowledged, and the casts the mailbox took may not have been acknowledged yet
        const remote = options.backend !== undefined
        const least = remote ? CAST_WINDOW : capacity
        const most = capacity + (remote ? CAST_WINDOW : 0)
        const n = most + 40
        let sent = 0
        const caster = yield* Effect.forkChild(
          Effect.forEach(
            Array.from({ length: n }, (_, i) => String(i)),
            (entry) => Effect.map(calc.record({ entry }), () => void sent++)
          )
        )
        yield* until(Effect.sync(() => sent >= least))
        expect(sent).toBeLessThanOrEqual(most)
        // the caster waits where a user can see it: on the link's diagnostics (and the inspector's page)
        if (remote) {
          const links = (yield* ActorSystem.ActorSystem).router.stats().linkDetail
          expect(links.some((l) => l.endsWith(", 1 cast waiting for credit"))).toBe(true)
        }
        yield* (yield* gate).open({ name })
        yield* bounded(Fiber.join(caster))
        expect(yield* Fiber.join(held)).toBe("held")
        const history = yield* calc.history()
        expect(history).toEqual(["held", ...Array.from({ length: n }, (_, i) => String(i))])
      })
    )

    it.effect("keeps the order of 10k messages", () =>
      Effect.gen(function* () {
        const calc = yield* spawn(Worker, fresh("order"))
        for (let i = 0; i < 10_000; i++) yield* calc.record({ entry: String(i) })
        const history = yield* calc.history()
        expect(history.length).toBe(10_000)
        expect(history.every((h, i) => h === String(i))).toBe(true)
      })
    )

    it.effect("keeps per-sender order when 64 fibers send at once", () =>
      Effect.gen(function* () {
        const calc = yield* spawn(Worker, fresh("senders"))
        yield* Effect.forEach(
          Array.from({ length: 64 }, (_, s) => s),
          (s) =>
            Effect.forEach(
              Array.from({ length: 50 }, (_, i) => i),
              (i) => calc.record({ entry: `${s}:${i}` })
            ),
          { concurrency: "unbounded", discard: true }
        )
        const history = yield* calc.history()
        expect(history.length).toBe(64 * 50)
        for (let s = 0; s < 64; s++) {
          const own = history.filter((h) => h.startsWith(`${s}:`)).map((h) => Number(h.split(":")[1]))
          expect(own).toEqual(Array.from({ length: 50 }, (_, i) => i))
        }
      })
    )

    it.effect("Uint8Array, Date, bigint and Schema classes survive the trip", () =>
      Effect.gen(function* () {
        const calc = yield* spawn(Worker, fresh("payloads"))
        const person = new Person({
          name: "ada",
          born: new Date(Date.UTC(1815, 11, 10)),
          avatar: new Uint8Array([1, 2, 3]),
          balance: 12345678901234567890n
        })
        const back = yield* calc.echoPerson(person)
        assert.instanceOf(back, Person)
        expect(back.greeting).toBe("hi ADA")
        assert.instanceOf(back.born, Date)
        expect(back.born.getTime()).toBe(person.born.getTime())
        assert.instanceOf(back.avatar, Uint8Array)
        expect(Array.from(back.avatar)).toEqual([1, 2, 3])
        expect(back.balance).toBe(12345678901234567890n)
        const described = yield* calc.describe({
          bytes: new Uint8Array(1000).fill(7),
          at: new Date(Date.UTC(2026, 10, 20)),
          big: 2n ** 70n
        })
        expect(described.length).toBe(1000)
        expect(described.year).toBe(2026)
        expect(described.doubled).toBe(2n ** 71n)
        assert.instanceOf(described.bytes, Uint8Array)
        expect(described.bytes[999]).toBe(8)
      })
    )

    it.effect("Option, HashMap, Chunk, DateTime and Duration survive the trip", () =>
      Effect.gen(function* () {
        const calc = yield* spawn(Worker, fresh("effect-data"))
        const out = yield* calc.effectData({
          nickname: Option.some("ada"),
          scores: HashMap.make(["ada", 3], ["bob", 9]),
          samples: Chunk.make(1, 2, 3),
          at: DateTime.makeUnsafe(Date.UTC(2026, 10, 20)),
          timeout: Duration.seconds(5),
          avatar: new Uint8Array([4, 5])
        })
        expect(Option.getOrNull(out.nickname)).toBe("ADA")
        expect(Option.getOrNull(out.best)).toBe("bob")
        assert.isTrue(Chunk.isChunk(out.samples))
        expect(Chunk.toReadonlyArray(out.samples)).toEqual([2, 4, 6])
        assert.isTrue(DateTime.isDateTime(out.nextDay))
        expect(DateTime.toEpochMillis(out.nextDay)).toBe(Date.UTC(2026, 10, 21))
        expect(Duration.toMillis(out.timeout)).toBe(10_000)
        assert.instanceOf(out.avatar, Uint8Array)
        expect(Array.from(out.avatar)).toEqual([4, 5])
        const none = yield* calc.effectData({
          nickname: Option.none(),
          scores: HashMap.empty(),
          samples: Chunk.empty(),
          at: DateTime.makeUnsafe(0),
          timeout: Duration.zero,
          avatar: new Uint8Array(0)
        })
        assert.isTrue(Option.isNone(none.nickname))
        assert.isTrue(Option.isNone(none.best))
      })
    )
  })
}
