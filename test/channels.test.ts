/**
 * Channels and topics across backends: every feature between each pair of nodes that matters
 * (in-process↔worker, in-process↔child, worker↔child, worker↔remote, worker↔worker, child↔remote),
 * driven through Relay actors on both sides. Waits are bounded; ordering is proven causally (a channel
 * message sent after the publications travels the same route, so its arrival means theirs).
 */
import { assert, describe, expect, it, layer } from "@effect/vitest"
import { Effect, Fiber, Schema } from "effect"
import { Actor, type ActorError, ActorRef, ActorSystem } from "troupe"
import { Subprocess, Workers } from "troupe/node"
import { CHANNEL_WINDOW, TOPIC_WINDOW } from "../src/internal/router.ts"
import { Jobs, Relay, RelayLive } from "./fixtures/channel-actors.ts"
import { reasonOf } from "./spec/behaviour.ts"
import { child, inProcess, layerForSides, remote, type Side, worker } from "./support/sides.ts"

const host = new URL("./fixtures/channel-host.ts", import.meta.url)

const layerFor = (sides: ReadonlyArray<Side>, workers = 1, restart = true) =>
  layerForSides({ host, behaviours: RelayLive, secret: "matrix", sides, workers, restart })

const bounded = <A, E, R>(self: Effect.Effect<A, E, R>, what = "") =>
  self.pipe(
    Effect.timeoutOrElse({
      duration: "20 seconds",
      orElse: () => Effect.die(`the wait${what && ` for ${what}`} timed out`)
    })
  )

/**
 * As `bounded`, and a timeout reports the news topic's flow control on each relay's node and on this
 * (the hub's) node: credit, waiters, publications not yet handled. For a wait that only a lost
 * publication or acknowledgement could leave hanging.
 */
const boundedTopic = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  what: string,
  relays: ReadonlyArray<ActorRef.ActorRef<typeof Relay>>
) =>
  Effect.flatMap(Effect.forkChild(self, { startImmediately: true }), (fiber) =>
    // the wait is still running while the report is taken (only the join times out), so the report
    // shows the state it is stuck in
    Fiber.join(fiber).pipe(
      Effect.timeoutOrElse({
        duration: "20 seconds",
        orElse: () =>
          Effect.gen(function* () {
            const stats = (yield* ActorSystem.ActorSystem).router.stats()
            const hub = stats.topics.find((t) => t.name === "news")
            const nodes: Array<string> = [
              `hub: ${JSON.stringify(hub?.flow ?? "no topic state")}, links ${JSON.stringify(stats.linkDetail)}`
            ]
            for (const relay of relays) {
              const exit = yield* Effect.exit(relay.stats())
              nodes.push(
                exit._tag === "Success"
                  ? `${exit.value.node} (${relay.id}, ${exit.value.published} published): ${JSON.stringify(exit.value.newsFlow)}, links ${JSON.stringify(exit.value.linkDetail)}`
                  : "?"
              )
            }
            yield* Fiber.interrupt(fiber)
            return yield* Effect.die(`the wait for ${what} timed out; news flow: ${nodes.join("; ")}`)
          })
      })
    )
  )

let ids = 0
const spawnOn = (side: Side) =>
  Actor.spawn(Relay, { id: `relay-${side.name}-${++ids}`, backend: side.backend }) as Effect.Effect<
    ActorRef.ActorRef<typeof Relay>,
    ActorError.ActorError
  >

/** Two relays on different nodes (a pool of two workers places ids by hash: try until they differ). */
const pairOf = (a: Side, b: Side) =>
  Effect.gen(function* () {
    const first = yield* spawnOn(a)
    for (let i = 0; i < 64; i++) {
      const second = yield* spawnOn(b)
      if (ActorRef.location(second) !== ActorRef.location(first)) return [first, second] as const
    }
    return yield* Effect.die("could not place two relays on different nodes")
  })

/**
 * Polls a flood's progress until it reaches `at least`, then keeps polling a while: a flood that was
 * not held back would run far past it meanwhile. Polling intervals, bounded; not a synchronisation.
 */
const stalledAt = (read: Effect.Effect<number, ActorError.ActorError>, atLeast: number) =>
  Effect.gen(function* () {
    let now = 0
    for (let i = 0; i < 2000 && now < atLeast; i++) {
      now = yield* read
      if (now < atLeast) yield* Effect.sleep("2 millis")
    }
    for (let i = 0; i < 20; i++) {
      yield* Effect.sleep("2 millis")
      now = yield* read
    }
    return now
  })

const seqs = (from: string, start: number, n: number) => Array.from({ length: n }, (_, i) => ({ from, seq: start + i }))

/** The eight concurrent senders (or publishers) of the "many at once" tests, 300 messages each. */
const eight = Array.from({ length: 8 }, (_, k) => k)

/** Each of the eight sent its 300 messages, in order, whatever the interleaving between them. */
const expectEachInOrder = (messages: ReadonlyArray<{ readonly from: string }>, prefix: string) => {
  for (const k of eight)
    expect(messages.filter((m) => m.from === `${prefix}${k}`)).toEqual(seqs(`${prefix}${k}`, 0, 300))
}

/** What a relay's subscription has collected, once it holds `n` publications (polled, bounded by the caller). */
const collectedAll = (relay: ActorRef.ActorRef<typeof Relay>, n: number) =>
  Effect.gen(function* () {
    while (true) {
      const collected = yield* relay.collected()
      if (collected.length >= n) return collected
      yield* Effect.sleep("5 millis")
    }
  })

const pairs: ReadonlyArray<{ readonly a: Side; readonly b: Side; readonly workers?: number }> = [
  { a: inProcess, b: worker },
  { a: inProcess, b: child },
  { a: worker, b: child },
  { a: worker, b: remote },
  { a: worker, b: worker, workers: 2 },
  { a: child, b: remote }
]

for (const { a, b, workers } of pairs) {
  layer(layerFor([a, b], workers), { timeout: 90_000, excludeTestServices: true })(
    `channels and topics: ${a.name} ↔ ${b.name}`,
    (it) => {
      it.effect("messages arrive in order, both ways; endpoints travel inside actor messages", () =>
        Effect.gen(function* () {
          const [ra, rb] = yield* pairOf(a, b)
          const toB = yield* rb.open({ name: "in", capacity: 64 })
          const toA = yield* ra.open({ name: "in", capacity: 64 })
          const sending = yield* Effect.forkChild(ra.send({ to: toB, n: 300, from: "a" }), { startImmediately: true })
          const back = yield* Effect.forkChild(rb.send({ to: toA, n: 300, from: "b" }), { startImmediately: true })
          expect(yield* bounded(rb.receive({ name: "in", n: 300 }))).toEqual(seqs("a", 0, 300))
          expect(yield* bounded(ra.receive({ name: "in", n: 300 }))).toEqual(seqs("b", 0, 300))
          yield* Fiber.join(sending)
          yield* Fiber.join(back)
        })
      )

      it.effect("endpoints travel inside channel messages", () =>
        Effect.gen(function* () {
          const [ra, rb] = yield* pairOf(a, b)
          const requests = yield* rb.openRequests()
          const answers = yield* ra.open({ name: "answers", capacity: 8 })
          yield* ra.ask({ to: requests, question: "what is 6 x 7?", replyTo: answers })
          expect(yield* bounded(rb.answer())).toBe("what is 6 x 7?")
          expect(yield* bounded(ra.receive({ name: "answers", n: 1 }))).toEqual([
            { from: "answer to what is 6 x 7?", seq: 42 }
          ])
        })
      )

      it.effect("receive with a timeout fails typed; closed and unknown endpoints fail typed", () =>
        Effect.gen(function* () {
          const [ra, rb] = yield* pairOf(a, b)
          const endpoint = yield* rb.open({ name: "quiet", capacity: 8 })
          const timeout = yield* Effect.flip(rb.receive({ name: "quiet", n: 1, timeoutMs: 30 }))
          assert(timeout.reason._tag === "Timeout")
          yield* rb.close({ name: "quiet" })
          expect(reasonOf(yield* Effect.exit(ra.send({ to: endpoint, n: 1, from: "a" })))).toBe("ChannelClosed")
          const forged = Schema.decodeUnknownSync(Jobs.Endpoint)({
            node: endpoint.node,
            id: "no-such-inbox",
            channel: "jobs"
          })
          expect(reasonOf(yield* Effect.exit(ra.send({ to: forged, n: 1, from: "a" })))).toBe("ChannelClosed")
        })
      )

      it.effect("back-pressure crosses the wire: a flood stops at the credit window until the receiver takes", () =>
        Effect.gen(function* () {
          const [ra, rb] = yield* pairOf(a, b)
          const slow = yield* rb.open({ name: "slow", capacity: 16 })
          const flood = yield* Effect.forkChild(ra.send({ to: slow, n: 2000, from: "a" }), { startImmediately: true })
          const sent = yield* stalledAt(ra.sent(), CHANNEL_WINDOW)
          expect(sent).toBe(CHANNEL_WINDOW)
          expect(yield* rb.size({ name: "slow" })).toBeLessThanOrEqual(CHANNEL_WINDOW)
          expect(yield* bounded(rb.receive({ name: "slow", n: 2000 }))).toEqual(seqs("a", 0, 2000))
          expect(yield* bounded(Fiber.join(flood))).toBe(2000)
        })
      )

      it.effect(
        "topics: publications arrive in order; only nodes with subscribers get them; unsubscribe stops them",
        () =>
          Effect.gen(function* () {
            const [ra, rb] = yield* pairOf(a, b)
            const marks = yield* rb.open({ name: "marks", capacity: 8 })
            expect((yield* ra.stats()).newsInterested).toBe(0)
            yield* rb.subscribe({ capacity: 1000, strategy: "suspend" })
            expect((yield* ra.stats()).newsInterested).toBeGreaterThan(0)
            yield* ra.publish({ n: 100, from: "a", offset: 0 })
            expect(yield* bounded(rb.collectedAtLeast({ n: 100 }))).toEqual(seqs("a", 0, 100))
            yield* rb.unsubscribe()
            // a marker sent after the UNSUB's effects: when it arrives, interest has been withdrawn
            yield* rb.send({ to: marks, n: 1, from: "b" })
            yield* rb.receive({ name: "marks", n: 1 })
            yield* ra.publish({ n: 5, from: "a", offset: 100 })
            // and one from a: when it arrives at b's node, so have a's publications (same route, in order)
            yield* ra.send({ to: marks, n: 1, from: "a" })
            yield* bounded(rb.receive({ name: "marks", n: 1 }))
            yield* rb.subscribe({ capacity: 1000, strategy: "suspend" })
            yield* ra.publish({ n: 5, from: "a", offset: 200 })
            expect(yield* bounded(rb.collectedAtLeast({ n: 105 }))).toEqual([
              ...seqs("a", 0, 100),
              ...seqs("a", 200, 5)
            ])
            yield* rb.unsubscribe()
          })
      )

      it.effect("many senders and publishers at once, all held back by credit, all get through in order", () =>
        Effect.gen(function* () {
          const [ra, rb] = yield* pairOf(a, b)
          yield* rb.subscribe({ capacity: 8, strategy: "suspend" })
          const inbox = yield* rb.open({ name: "busy", capacity: 8 })
          // more waiting senders than one acknowledgement frees: a woken sender must not queue again
          const running = yield* Effect.forEach(eight, (k) =>
            Effect.all([
              Effect.forkChild(ra.publish({ n: 300, from: `p${k}`, offset: 0 }), { startImmediately: true }),
              Effect.forkChild(ra.send({ to: inbox, n: 300, from: `s${k}` }), { startImmediately: true })
            ])
          )
          expectEachInOrder(yield* bounded(rb.receive({ name: "busy", n: 2400 })), "s")
          expectEachInOrder(yield* bounded(collectedAll(rb, 2400)), "p")
          for (const fiber of running.flat()) expect(yield* bounded(Fiber.join(fiber))).toBe(300)
          // a subscription left behind would fill up and hold back the later tests' publishers
          yield* rb.unsubscribe()
          yield* Actor.stop(rb)
        })
      )

      it.effect("topics: a full 'suspend' subscriber holds the publisher back; 'sliding' and 'dropping' do not", () =>
        Effect.gen(function* () {
          const [ra, rb] = yield* pairOf(a, b)
          yield* rb.subscribeSlow({ capacity: 8, strategy: "suspend" })
          const flood = yield* Effect.forkChild(ra.publish({ n: 3000, from: "a", offset: 0 }), {
            startImmediately: true
          })
          const published = yield* stalledAt(ra.published(), TOPIC_WINDOW)
          expect(published).toBeLessThan(3000)
          expect(published).toBeLessThanOrEqual(3 * TOPIC_WINDOW + 8)
          expect(
            yield* boundedTopic(rb.drainSlow({ n: 3000 }), `3000 publications (${published} published)`, [ra, rb])
          ).toEqual(seqs("a", 0, 3000))
          expect(yield* boundedTopic(Fiber.join(flood), "the flood to end", [ra, rb])).toBe(3000)
          // a topic is system-wide: the slow subscriber would hold back every later publisher
          yield* Actor.stop(rb)

          for (const [strategy, kept] of [
            ["sliding", seqs("a", 992, 8)],
            ["dropping", seqs("a", 0, 8)]
          ] as const) {
            const [pa, pb] = yield* pairOf(a, b)
            const marks = yield* pb.open({ name: "marks", capacity: 8 })
            yield* pb.subscribeSlow({ capacity: 8, strategy })
            // nobody waits for a sliding or dropping subscriber: the publisher runs through
            expect(
              yield* boundedTopic(pa.publish({ n: 1000, from: "a", offset: 0 }), `${strategy} publishing`, [pa, pb])
            ).toBe(1000)
            yield* pa.send({ to: marks, n: 1, from: "a" })
            yield* boundedTopic(pb.receive({ name: "marks", n: 1 }), `${strategy}'s mark`, [pa, pb])
            expect(yield* boundedTopic(pb.drainSlow({ n: 8 }), `${strategy}'s 8 kept`, [pa, pb])).toEqual(kept)
            yield* Actor.stop(pb)
          }
        })
      )
    }
  )
}

describe("channels: one node", () => {
  it.live("many senders to a full inbox on their own node all get through in order", () =>
    Effect.gen(function* () {
      const ra = yield* spawnOn(inProcess)
      const rb = yield* spawnOn(inProcess)
      const inbox = yield* rb.open({ name: "busy", capacity: 8 })
      // each message taken frees room for one waiting sender, which must use it rather than queue again
      const running = yield* Effect.forEach(eight, (k) =>
        Effect.forkChild(ra.send({ to: inbox, n: 300, from: `s${k}` }), { startImmediately: true })
      )
      expectEachInOrder(yield* bounded(rb.receive({ name: "busy", n: 2400 })), "s")
      for (const fiber of running) expect(yield* bounded(Fiber.join(fiber))).toBe(300)
    }).pipe(Effect.provide(layerFor([inProcess])))
  )
})

describe("channels and topics: a node that dies", () => {
  it.live("senders to its inboxes get typed errors; its topic interest goes; nothing leaks", () =>
    Effect.gen(function* () {
      const local = yield* spawnOn(inProcess)
      const inWorker = yield* spawnOn(worker)
      const endpoint = yield* inWorker.open({ name: "doomed", capacity: 8 })
      yield* local.send({ to: endpoint, n: 3, from: "main" })
      yield* inWorker.subscribe({ capacity: 100, strategy: "suspend" })
      const before = yield* local.stats()
      expect(before.senders).toBe(1)
      expect(before.newsInterested).toBe(1)
      const [node] = yield* (yield* Workers).nodes
      yield* node!.kill
      // sends complete while the death is not yet noticed (at most once: they are lost); then they fail typed
      const error = yield* bounded(
        Effect.gen(function* () {
          while (true) {
            const exit = yield* Effect.exit(local.send({ to: endpoint, n: 1, from: "main" }))
            if (exit._tag === "Failure") return yield* Effect.flip(exit)
            yield* Effect.sleep("1 millis")
          }
        })
      )
      expect(["PeerDied", "Unreachable", "ChannelClosed"]).toContain(error.reason._tag)
      const after = yield* local.stats()
      expect(after.senders).toBe(0)
      expect(after.newsInterested).toBe(0)
      expect(after.links).toBe(0)
      // publishing now reaches nobody, and does not wait for the dead node's credit
      expect(yield* bounded(local.publish({ n: 1000, from: "main", offset: 0 }))).toBe(1000)
    }).pipe(Effect.provide(layerFor([inProcess, worker], 1, false)))
  )

  it.live("a sender whose session runs through the hub is told when the inbox's node dies", () =>
    Effect.gen(function* () {
      const inWorker = yield* spawnOn(worker)
      const inChild = yield* spawnOn(child)
      const endpoint = yield* inChild.open({ name: "relayed", capacity: 4 })
      // nobody receives: the worker's sender runs out of credit and waits, its session through the hub
      const sending = yield* Effect.forkChild(inWorker.send({ to: endpoint, n: 10_000, from: "worker" }))
      yield* bounded(
        Effect.gen(function* () {
          while ((yield* inWorker.sent()) < CHANNEL_WINDOW) yield* Effect.sleep("1 millis")
        }),
        "the sender to use its credit"
      )
      const [node] = yield* (yield* Subprocess).nodes
      yield* node!.kill
      const exit = yield* bounded(Fiber.await(sending), "the blocked sender")
      expect(["ChannelClosed", "Unreachable", "PeerDied"]).toContain(reasonOf(exit))
      const again = yield* bounded(Effect.exit(inWorker.send({ to: endpoint, n: 1, from: "worker" })), "a new send")
      expect(["ChannelClosed", "Unreachable", "PeerDied"]).toContain(reasonOf(again))
    }).pipe(Effect.provide(layerFor([inProcess, worker, child], 1, false)))
  )
})
