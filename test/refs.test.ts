/**
 * Refs inside messages: a Counter ref handed to a Broker on another node (in payloads, replies and
 * channel messages) works there with the same API: calls, typed errors, casts in order, streams,
 * stop and watch. Between two nodes that are not neighbours (worker↔worker, worker↔child,
 * child↔remote, remote↔worker) requests are relayed by the hub. Nodes die mid-relay; forged refs
 * reach nothing their holder's node has no route to.
 */
import { assert, describe, expect, it, layer } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Schema, Stream } from "effect"
import { Actor, type ActorError, ActorRef, ActorSystem, Channel, DeadLetter } from "troupe"
import { Workers, type PoolBackend } from "troupe/node"
import { Broker, BrokerLive, Counter, CounterLive, Counters, Ring, RingLive } from "./fixtures/ref-actors.ts"
import { CAST_WINDOW } from "../src/internal/wire/frame.ts"
import { reasonOf } from "./spec/behaviour.ts"
import { child, inProcess, layerForSides, remote, type Side, worker } from "./support/sides.ts"

const host = new URL("./fixtures/ref-host.ts", import.meta.url)

const bounded = <A, E, R>(self: Effect.Effect<A, E, R>, what: string) =>
  self.pipe(
    Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(`the wait for ${what} timed out`) })
  )

/** Polls (bounded) until `read` gives `want`: for state that changes on another node. */
const until = <A, E, R>(read: Effect.Effect<A, E, R>, want: A, what: string) =>
  bounded(
    Effect.gen(function* () {
      while (true) {
        const now = yield* read
        if (now === want) return now
        yield* Effect.sleep("5 millis")
      }
    }),
    what
  )

const layerFor = (sides: ReadonlyArray<Side>, workers = 1) =>
  layerForSides({
    host,
    behaviours: Layer.mergeAll(CounterLive, BrokerLive, RingLive),
    secret: "refs",
    sides,
    workers,
    restart: false
  })

let ids = 0
const counterOn = (side: Side) =>
  Actor.spawn(Counter, { id: `counter-${side.name}-${++ids}`, backend: side.backend }) as Effect.Effect<
    ActorRef.ActorRef<typeof Counter>,
    ActorError.ActorError
  >
const brokerOn = (side: Side) =>
  Actor.spawn(Broker, { id: `broker-${side.name}-${++ids}`, backend: side.backend }) as Effect.Effect<
    ActorRef.ActorRef<typeof Broker>,
    ActorError.ActorError
  >

/** A counter and a broker on different nodes (a pool places ids by hash: try until they differ). */
const apart = (counterSide: Side, brokerSide: Side) =>
  Effect.gen(function* () {
    const counter = yield* counterOn(counterSide)
    for (let i = 0; i < 64; i++) {
      const broker = yield* brokerOn(brokerSide)
      if ((yield* broker.whereAmI()) !== (yield* counter.node())) return [counter, broker] as const
    }
    return yield* Effect.die("could not place the counter and the broker on different nodes")
  })

const pairs: ReadonlyArray<readonly [counter: Side, broker: Side, workers: number]> = [
  [inProcess, worker, 1],
  [worker, inProcess, 1],
  [worker, worker, 2],
  [worker, child, 1],
  [child, remote, 1],
  [remote, worker, 1]
]

for (const [counterSide, brokerSide, workers] of pairs) {
  layer(layerFor([counterSide, brokerSide], workers), { timeout: 60_000, excludeTestServices: true })(
    `refs: a ${counterSide.name} actor's ref used on a ${brokerSide.name} node`,
    (it) => {
      it.effect("calls, typed errors, casts in order, streams, stop and watch all work through the ref", () =>
        Effect.gen(function* () {
          const [counter, broker] = yield* apart(counterSide, brokerSide)
          expect(yield* broker.node({ target: counter })).toBe(yield* counter.node())
          expect(yield* broker.add({ target: counter, n: 5 })).toBe(5)
          const overdrawn = yield* Effect.flip(broker.take({ target: counter, n: 8 }))
          assert(overdrawn._tag === "Overdrawn")
          expect(overdrawn.short).toBe(3)
          expect(yield* broker.take({ target: counter, n: 2 })).toBe(3)
          expect(yield* broker.bumpThenAdd({ target: counter, n: 10 })).toBe(13)
          // four windows of casts: each link on the way acknowledges them back to the caster's node
          expect(yield* broker.bumpMany({ target: counter, n: 1, times: 4 * CAST_WINDOW })).toBe(13 + 4 * CAST_WINDOW)
          yield* counter.add({ n: -4 * CAST_WINDOW })
          expect(yield* broker.count({ target: counter, n: 300 })).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
          // leaving a stream stops its producer, across the relay too
          expect(yield* broker.ticks({ target: counter, n: 3 })).toEqual([0, 1, 2])
          yield* until(counter.streams(), 0, "the abandoned stream to stop")
          expect(yield* counter.add({ n: 0 })).toBe(13)
          expect(yield* broker.watchFor({ target: counter, millis: 1 })).toBe("gave up")
          // whatever was relayed has been answered or given up: no node on the way holds anything
          const system = yield* ActorSystem.ActorSystem
          yield* until(
            Effect.sync(() => system.router.stats().linkDetail.every((l) => l.includes(" 0 pending, 0 inbound"))),
            true,
            "the hub's links to hold no requests"
          )
          expect(yield* broker.stopAndWatch({ target: counter })).toEqual({ watched: "Stopped", later: "Stopped" })
          expect(reasonOf(yield* Effect.exit(counter.add({ n: 1 })))).toBe("Stopped")
        })
      )

      it.effect("refs come back in replies and in channel messages, and work where they land", () =>
        Effect.gen(function* () {
          const [counter, broker] = yield* apart(counterSide, brokerSide)
          // a ref that went out and came back
          const back = yield* broker.echo({ target: counter })
          expect(back.id).toBe(counter.id)
          expect(yield* back.add({ n: 2 })).toBe(2)
          // a ref to an actor the broker spawned on its node
          const spawned = yield* broker.spawnCounter({ id: `spawned-${++ids}` })
          expect(yield* spawned.add({ n: 7 })).toBe(7)
          // (an in-process broker's reply is the ref itself, not its wire form)
          expect(ActorRef.location(spawned)).toBe(brokerSide === inProcess ? "local" : yield* broker.whereAmI())
          // a ref inside a channel message
          const inbox = yield* Channel.open(Counters)
          yield* broker.sendCounter({ to: inbox.endpoint, id: `sent-${++ids}`, n: 4 })
          const { counter: sent, note } = yield* inbox.receive({ timeout: "10 seconds" })
          expect(note).toBe(`from ${yield* broker.whereAmI()}`)
          expect(yield* sent.add({ n: 1 })).toBe(5)
          // and handed on again, to the counter's side
          expect(yield* broker.add({ target: sent, n: 1 })).toBe(6)
        }).pipe(Effect.scoped)
      )
    }
  )
}

layer(layerFor([worker], 1), { timeout: 60_000, excludeTestServices: true })(
  "refs: an actor's ref used on its own node",
  (it) => {
    it.effect("resolves to the local actor there", () =>
      Effect.gen(function* () {
        const counter = yield* counterOn(worker)
        const broker = yield* brokerOn(worker)
        expect(yield* broker.whereAmI()).toBe(yield* counter.node())
        expect(yield* broker.add({ target: counter, n: 3 })).toBe(3)
        expect(yield* broker.count({ target: counter, n: 3 })).toEqual([1, 2, 3])
        expect(yield* broker.stopAndWatch({ target: counter })).toEqual({ watched: "Stopped", later: "Stopped" })
        // a new actor under the same id is another incarnation: the old ref does not reach it
        const again = yield* Actor.spawn(Counter, { id: counter.id, backend: Workers })
        expect(yield* broker.reach({ target: counter })).toBe("Stopped")
        expect(yield* broker.add({ target: again, n: 1 })).toBe(1)
      })
    )
  }
)

layer(layerFor([inProcess, worker, child, remote], 1), { timeout: 60_000, excludeTestServices: true })(
  "refs: call cycles",
  (it) => {
    const ringOn = (side: Side) =>
      Actor.spawn(Ring, { id: `ring-${side.name}-${++ids}`, backend: side.backend }) as Effect.Effect<
        ActorRef.ActorRef<typeof Ring>,
        ActorError.ActorError
      >
    it.effect(
      "a call that comes back to a handler waiting for it fails with Deadlock, on one node or through four",
      () =>
        Effect.gen(function* () {
          const [a, b, c] = yield* Effect.all([ringOn(inProcess), ringOn(inProcess), ringOn(inProcess)])
          const [w, w2, ch, r] = yield* Effect.all([ringOn(worker), ringOn(worker), ringOn(child), ringOn(remote)])
          const pass = (first: ActorRef.ActorRef<typeof Ring>, ...path: Array<ActorRef.ActorRef<typeof Ring>>) =>
            bounded(first.pass({ path }), `a pass through ${path.length} actors`)
          // on one node: the call back to a waits for a's handler, which waits for b
          expect(yield* pass(a, b, a)).toBe(`Deadlock at ${a.id} (cycle)`)
          expect(yield* pass(a, a)).toBe(`Deadlock at ${a.id}`) // a handler calling its own actor
          // on a worker, reached from here: the cycle w → w2 → w is found there
          expect(yield* pass(a, w, w2, w)).toBe(`Deadlock at ${w.id} (cycle)`)
          // through four nodes: in-process → worker → child → remote → back to the first, waiting
          expect(yield* pass(a, w, ch, r, a)).toBe(`Deadlock at ${a.id} (cycle)`)
          expect(yield* pass(w, ch, r, b, w)).toBe(`Deadlock at ${w.id} (cycle)`)
          // each hop's call under Actor.timeout
          expect(yield* bounded(a.pass({ path: [w, ch, r, a], patient: true }), "a patient pass")).toBe(
            `Deadlock at ${a.id} (cycle)`
          )
          // no cycle: back to the same nodes, but to actors that are not waiting
          expect(yield* pass(a, b, c)).toBe(c.id)
          expect(yield* pass(a, w, ch, r, b, w2)).toBe(w2.id)
          // every actor carries on; a chain that ended leaves nothing behind to refuse a later call
          expect(yield* pass(b, a)).toBe(a.id)
          expect(yield* pass(r, a, w)).toBe(w.id)
          expect(yield* pass(ch, w, a, r)).toBe(r.id)
        })
    )
  }
)

describe("refs: in-process, serialize-messages", () => {
  it.effect("a ref survives the codec and reaches its actor; refs of another protocol are refused", () =>
    Effect.gen(function* () {
      const counter = yield* Actor.spawn(Counter, { id: "c" })
      const broker = yield* Actor.spawn(Broker, { id: "b" })
      expect(yield* broker.add({ target: counter, n: 4 })).toBe(4)
      expect(yield* broker.count({ target: counter, n: 2 })).toEqual([1, 2])
      const back = yield* broker.echo({ target: counter })
      expect(yield* back.add({ n: 1 })).toBe(5)
      // a Broker ref where a Counter ref is declared: refused before it leaves
      expect(reasonOf(yield* Effect.exit(broker.add({ target: broker as never, n: 1 })))).toBe("DecodeError")
      // the wire form names the protocol, and decoding checks it
      const encoded = Schema.encodeSync(Counter.Ref)(counter)
      expect(encoded).toMatchObject({ id: "c", protocol: "RefCounter" })
      expect(Exit.isFailure(Schema.decodeUnknownExit(Counter.Ref)({ ...encoded, protocol: "RefBroker" }))).toBe(true)
      expect(Exit.isFailure(Schema.decodeUnknownExit(Counter.Ref)({ ...encoded, incarnation: -1 }))).toBe(true)
      yield* Actor.stop(counter)
      expect(reasonOf(yield* Effect.exit(back.add({ n: 1 })))).toBe("Stopped")
      expect((yield* Actor.watch(back))._tag).toBe("Stopped")
    }).pipe(
      Effect.provide(
        Layer.mergeAll(CounterLive, BrokerLive).pipe(Layer.provideMerge(ActorSystem.layer({ serializeMessages: true })))
      )
    )
  )
})

describe("refs: nodes that die mid-relay", () => {
  it.live("the target's node dies: the relayed call fails with PeerDied", () =>
    Effect.gen(function* () {
      const [counter, broker] = yield* apart(worker, worker)
      const held = yield* Effect.forkChild(broker.hold({ target: counter }), { startImmediately: true })
      const backend = (yield* Workers) as PoolBackend
      const where = yield* counter.node()
      // the relayed call is in flight once the counter's node answers a call sent after it
      yield* broker.node({ target: counter })
      const node = (yield* backend.nodes).find((n) => n.id === where)!
      yield* node.kill
      expect(yield* bounded(Fiber.join(held), "the held call to fail")).toBe("PeerDied")
      expect(yield* broker.reach({ target: counter })).toBe("Unreachable")
    }).pipe(Effect.provide(layerFor([worker], 2)))
  )

  it.live("the target's node dies with a window of casts relayed to it: the caster gets the credit back", () =>
    Effect.gen(function* () {
      const [counter, broker] = yield* apart(worker, worker)
      const where = yield* counter.node()
      const letters = yield* DeadLetter.subscribe({ capacity: 4 * CAST_WINDOW })
      yield* Effect.forkChild(Effect.exit(counter.block()), { startImmediately: true })
      const times = 3 * CAST_WINDOW
      const flood = yield* Effect.forkChild(broker.flood({ target: counter, times }), { startImmediately: true })
      // the broker stops with a window unacknowledged behind the blocked counter's full mailbox
      yield* until(
        Effect.map(broker.flooded(), (n) => n >= CAST_WINDOW),
        true,
        "the broker to fill its window"
      )
      const backend = (yield* Workers) as PoolBackend
      yield* (yield* backend.nodes).find((n) => n.id === where)!.kill
      // the hub gives back the credit of what it relayed there; the rest goes nowhere (at most once)
      expect(yield* bounded(Fiber.join(flood), "the flood to finish")).toBe(times)
      // ...but not silently: the hub, with no route to the dead node, makes each a dead letter
      const [letter] = yield* bounded(
        letters.pipe(
          Stream.filter((l) => l.reason === "Unreachable"),
          Stream.take(1),
          Stream.runCollect
        ),
        "a dead letter"
      )
      expect(letter).toMatchObject({ kind: "cast", target: counter.id, from: yield* broker.whereAmI() })
    }).pipe(Effect.provide(layerFor([worker], 2)))
  )

  it.live("the caller's node dies: the stream it was reading is stopped at the source", () =>
    Effect.gen(function* () {
      const [counter, broker] = yield* apart(worker, worker)
      yield* Effect.forkChild(Effect.exit(broker.ticks({ target: counter, n: 1e9 })), { startImmediately: true })
      yield* until(counter.streams(), 1, "the stream to start")
      const backend = (yield* Workers) as PoolBackend
      const where = yield* broker.whereAmI()
      yield* (yield* backend.nodes).find((n) => n.id === where)!.kill
      yield* until(counter.streams(), 0, "the orphaned stream to stop")
      expect(yield* counter.add({ n: 1 })).toBe(1)
    }).pipe(Effect.provide(layerFor([worker], 2)))
  )
})

layer(layerFor([worker, remote], 1), { timeout: 60_000, excludeTestServices: true })("refs: forged addresses", (it) => {
  it.effect("reach nothing their holder has no route to: another session of the server, an unknown node", () =>
    Effect.gen(function* () {
      const counter = yield* counterOn(remote)
      const onServer = yield* brokerOn(remote)
      const onWorker = yield* brokerOn(worker)
      const session = yield* onServer.whereAmI()
      const encoded = Schema.encodeSync(Counter.Ref)(counter)
      const forge = (node: string) => Schema.decodeSync(Counter.Ref)({ ...encoded, node })
      const otherSession = forge(session.replace(/s-[^/]+$/, "s-someone-else"))
      expect(yield* onServer.reach({ target: otherSession })).toBe("Unreachable")
      expect(yield* onWorker.reach({ target: otherSession })).toBe("Unreachable")
      expect(yield* onServer.reach({ target: forge(`${session}/below`) })).toBe("Unreachable")
      expect(yield* onWorker.reach({ target: forge("n-nowhere") })).toBe("Unreachable")
      // the genuine ref still works from both
      expect(yield* onServer.reach({ target: counter })).toBe("ok")
      expect(yield* onWorker.reach({ target: counter })).toBe("ok")
    })
  )
})
