/**
 * Pools (`Actor.spawnPool`): one ref over several members. Routing (least busy, in turn), casts in
 * turn, streams counted while they run, members spread one per node of a worker or child pool, a member
 * lost with its node found again on the replacement, and the pool's end (scope, stop, every member gone).
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Schema, Stream } from "effect"
import { Actor, ActorRef, ActorSystem } from "troupe"
import { Subprocess, Workers, type PoolBackend } from "troupe/node"
import { Gate, GateLive, Worker, WorkerLive } from "./fixtures/spec-actors.ts"
import { reasonOf } from "./spec/behaviour.ts"

const host = new URL("./fixtures/wire-host.ts", import.meta.url)

const bounded = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  self.pipe(Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die("the wait timed out") }))

/** Polls (bounded) until `check` holds: for what a pool does in the background (noticing a death). */
const eventually = (check: () => boolean) =>
  bounded(
    Effect.gen(function* () {
      while (!check()) yield* Effect.sleep("10 millis")
    })
  )

let ids = 0
const fresh = (prefix: string) => `${prefix}-${++ids}`

const local = Layer.mergeAll(WorkerLive, GateLive)

describe("a pool in-process", () => {
  it.live("sends a call to a member with nothing in flight; calls one at a time keep to one member", () =>
    Effect.gen(function* () {
      const id = fresh("least")
      const pool = yield* Actor.spawnPool(Worker, { id, size: 3 })
      const gate = yield* Actor.spawn(Gate, { id: fresh("gate") })
      // two calls held at once: each entered, so they are on two members (on one, the second would wait)
      const [g1, g2] = [fresh("g"), fresh("g")]
      const held = yield* Effect.forkChild(
        Effect.all([pool.hold({ gate: g1, tag: "one" }), pool.hold({ gate: g2, tag: "two" })], {
          concurrency: "unbounded"
        })
      )
      yield* gate.await({ name: `entered:${g1}` })
      yield* gate.await({ name: `entered:${g2}` })
      const whileBusy = yield* Effect.forEach([1, 2, 3, 4], () => pool.whoAmI())
      expect(new Set(whileBusy).size).toBe(1) // all to the idle member; none queued behind a hold
      yield* gate.open({ name: g1 })
      yield* gate.open({ name: g2 })
      expect(yield* Fiber.join(held)).toEqual(["one", "two"])
      const idle = yield* Effect.forEach([1, 2, 3, 4], () => pool.whoAmI())
      expect(new Set(idle).size).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(local))
  )

  it.live("counts a stream as busy until it ends", () =>
    Effect.gen(function* () {
      const id = fresh("streams")
      const pool = yield* Actor.spawnPool(Worker, { id, size: 2 })
      const gate = yield* Actor.spawn(Gate, { id: fresh("gate") })
      const name = fresh("s")
      const stream = yield* Effect.forkChild(pool.naturals({ name }).pipe(Stream.runDrain))
      yield* gate.await({ name: `stream-started:${name}` })
      const others = yield* Effect.forEach([1, 2, 3], () => pool.whoAmI())
      expect(new Set(others).size).toBe(1)
      yield* Fiber.interrupt(stream)
      yield* gate.await({ name: `stream-stopped:${name}` })
      expect(Array.from(yield* pool.countdown({ from: 3 }).pipe(Stream.runCollect))).toEqual([3, 2, 1, 0])
    }).pipe(Effect.scoped, Effect.provide(local))
  )

  it.live("round-robin takes the members in turn; casts always do", () =>
    Effect.gen(function* () {
      const id = fresh("rr")
      const pool = yield* Actor.spawnPool(Worker, { id, size: 3, routing: "round-robin" })
      const order = yield* Effect.forEach([1, 2, 3, 4, 5, 6], () => pool.whoAmI())
      expect(order).toEqual([0, 1, 2, 0, 1, 2].map((i) => `${id}#${i}`))
      yield* Effect.forEach(["a", "b", "c", "d", "e", "f"], (entry) => pool.record({ entry }))
      const histories = yield* Effect.forEach(Actor.members(pool), (member) => member.history())
      expect(histories.map((h) => h.length)).toEqual([2, 2, 2])
    }).pipe(Effect.scoped, Effect.provide(local))
  )

  it.live("leaves out a member that ended, and ends when the last one does", () =>
    Effect.gen(function* () {
      const id = fresh("ending")
      const pool = yield* Actor.spawnPool(Worker, { id, size: 2 })
      const [first, second] = Actor.members(pool)
      yield* Actor.stop(first!)
      yield* eventually(() => Actor.members(pool).length === 1)
      expect(yield* Effect.forEach([1, 2, 3], () => pool.whoAmI())).toEqual([`${id}#1`, `${id}#1`, `${id}#1`])
      const watching = yield* Effect.forkChild(Actor.watch(pool))
      yield* Actor.kill(second!)
      expect((yield* Fiber.join(watching))._tag).toBe("Killed")
      expect(reasonOf(yield* Effect.exit(pool.whoAmI()))).toBe("Stopped")
    }).pipe(Effect.scoped, Effect.provide(local))
  )

  it.live("is stopped with its scope, or by Actor.stop on its ref", () =>
    Effect.gen(function* () {
      const scoped = fresh("scoped")
      const members = yield* Effect.scoped(
        Effect.map(Actor.spawnPool(Worker, { id: scoped, size: 2 }), (pool) => Actor.members(pool))
      )
      for (const member of members) expect((yield* Actor.watch(member))._tag).toBe("Stopped")
      expect(reasonOf(yield* Effect.exit(Actor.lookup(Worker, `${scoped}#0`)))).toBe("NotFound")

      const pool = yield* Actor.spawnPool(Worker, { id: fresh("stopped"), size: 2 })
      yield* Actor.stop(pool)
      expect((yield* Actor.watch(pool))._tag).toBe("Stopped")
      expect(reasonOf(yield* Effect.exit(pool.add({ a: 1, b: 2 })))).toBe("Stopped")
    }).pipe(Effect.scoped, Effect.provide(local))
  )

  it.live("fails to spawn when a member's id is taken, and leaves no member behind", () =>
    Effect.gen(function* () {
      const id = fresh("taken")
      yield* Actor.spawn(Worker, { id: `${id}#1` })
      const exit = yield* Effect.exit(Actor.spawnPool(Worker, { id, size: 3 }))
      expect(reasonOf(exit)).toBe("AlreadyExists")
      expect(reasonOf(yield* Effect.exit(Actor.lookup(Worker, `${id}#0`)))).toBe("NotFound")
      expect(reasonOf(yield* Effect.exit(Actor.lookup(Worker, `${id}#2`)))).toBe("NotFound")
      const bad = yield* Effect.exit(Actor.spawnPool(Worker, { id: fresh("none"), size: 0 }))
      assert(Exit.isFailure(bad))
      expect(String(bad.cause)).toContain("size must be a whole number")
    }).pipe(Effect.scoped, Effect.provide(local))
  )

  it.live("has a ref that cannot travel in a message; its members can", () => {
    const Keeper = Actor.make("PoolKeeper", { keep: { payload: { ref: Worker.Ref }, success: Schema.String } })
    const KeeperLive = Keeper.toLayer(Effect.succeed(Keeper.of({ keep: ({ ref }) => ref.whoAmI() })))
    return Effect.gen(function* () {
      const id = fresh("travel")
      const pool = yield* Actor.spawnPool(Worker, { id, size: 2 })
      const keeper = yield* Actor.spawn(Keeper, { id: fresh("keeper") })
      const exit = yield* Effect.exit(keeper.keep({ ref: pool }))
      expect(reasonOf(exit)).toBe("DecodeError")
      expect(String(Exit.isFailure(exit) && exit.cause)).toContain("cannot travel; send one of Actor.members(pool)")
      expect(yield* keeper.keep({ ref: Actor.members(pool)[1]! })).toBe(`${id}#1`)
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(local, KeeperLive)),
      Effect.provide(ActorSystem.layer({ serializeMessages: true }))
    )
  })
})

const backends: ReadonlyArray<{
  readonly name: string
  readonly key: Actor.BackendKey
  readonly layer: (options: object) => Layer.Layer<any, unknown>
}> = [
  { name: "worker threads", key: Workers, layer: (o) => Workers.layer({ host, size: 2, ...o }) },
  { name: "child processes", key: Subprocess, layer: (o) => Subprocess.layer({ host, size: 2, ...o }) }
]

for (const backend of backends) {
  describe(`a pool on ${backend.name}`, () => {
    it.live("puts member n on node n, and spreads calls in flight over the members", () =>
      Effect.gen(function* () {
        const nodes = yield* ((yield* backend.key) as PoolBackend).nodes
        const id = fresh("spread")
        const pool = yield* Actor.spawnPool(Worker, { id, size: 4, backend: backend.key })
        expect(Actor.members(pool).map(ActorRef.location)).toEqual([0, 1, 0, 1].map((i) => nodes[i]!.id))
        expect(
          yield* Actor.lookup(Worker, `${id}#3`, { backend: backend.key }).pipe(Effect.map(ActorRef.location))
        ).toBe(nodes[1]!.id)
        // a gate on each node (`gate#n` goes to node n, as members do), to hold a call wherever it lands
        const gates = yield* Effect.forEach([0, 1], (n) =>
          Actor.spawn(Gate, { id: `${fresh("gate")}#${n}`, backend: backend.key })
        )
        // four calls held at once: every one entered, so each is on a member of its own
        const held = Array.from({ length: 4 }, () => fresh("g"))
        const holding = yield* Effect.forkChild(
          Effect.forEach(held, (g) => pool.hold({ gate: g, tag: g }), { concurrency: "unbounded" })
        )
        for (const g of held) yield* Effect.raceAll(gates.map((gate) => gate.await({ name: `entered:${g}` })))
        for (const g of held) yield* Effect.forEach(gates, (gate) => gate.open({ name: g }))
        expect(yield* Fiber.join(holding)).toEqual(held)
      }).pipe(Effect.scoped, Effect.provide(backend.layer({})), bounded)
    )

    it.live("finds a member lost with its node again on the node that replaced it", () =>
      Effect.gen(function* () {
        const pool = yield* Actor.spawnPool(Worker, { id: fresh("lost"), size: 2, backend: backend.key })
        const [, dead] = yield* ((yield* backend.key) as PoolBackend).nodes
        yield* dead!.kill
        // the member comes back on the replacement node (`...~1`), under its id, with fresh state
        yield* eventually(() => Actor.members(pool).map(ActorRef.location).includes(`${dead!.id}~1`))
        const answers = yield* Effect.forEach([1, 2, 3, 4], () => pool.add({ a: 1, b: 1 }))
        expect(answers).toEqual([2, 2, 2, 2])
        expect(Actor.members(pool)).toHaveLength(2)
      }).pipe(Effect.scoped, Effect.provide(backend.layer({})), bounded)
    )

    it.live("without node restarts, goes on with the members it has left", () =>
      Effect.gen(function* () {
        const id = fresh("left")
        const pool = yield* Actor.spawnPool(Worker, { id, size: 2, backend: backend.key })
        const [, dead] = yield* ((yield* backend.key) as PoolBackend).nodes
        yield* dead!.kill
        yield* eventually(() => Actor.members(pool).length === 1)
        expect(yield* Effect.forEach([1, 2, 3], () => pool.whoAmI())).toEqual([`${id}#0`, `${id}#0`, `${id}#0`])
      }).pipe(Effect.scoped, Effect.provide(backend.layer({ restart: false })), bounded)
    )
  })
}
