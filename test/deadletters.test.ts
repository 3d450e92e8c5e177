/**
 * Dead letters: a message dropped after its sender was told it was sent (a cast the actor's node refused,
 * casts queued when an actor was killed, channel messages an inbox never delivered) is counted on the
 * node that dropped it and published to `DeadLetter.subscribe` on every node that reaches it, on every
 * backend; a message whose sender got a typed error is not one.
 */
import { assert, describe, expect, layer } from "@effect/vitest"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { Effect, Exit, Fiber, Layer, Logger, Metric, Schema, Scope, Stream } from "effect"
import {
  Actor,
  type ActorError,
  type ActorRef,
  ActorSystem,
  Channel,
  DeadLetter,
  Inspector,
  type Protocol,
  Supervision
} from "troupe"
import { Gate, GateLive, Worker, WorkerLive } from "./fixtures/spec-actors.ts"
import { Jobs, Relay, RelayLive } from "./fixtures/channel-actors.ts"
import { child, inProcess, layerForSides, remote, type Side, worker } from "./support/sides.ts"
import { reasonOf } from "./spec/behaviour.ts"

const host = new URL("./fixtures/spec-host.ts", import.meta.url)
const sides = [inProcess, worker, child, remote]

const bounded = <A, E, R>(self: Effect.Effect<A, E, R>, what: string) =>
  self.pipe(
    Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(`the wait for ${what} timed out`) })
  )

/** An actor whose state is big enough to find: each build registers a WeakRef to it. */
const Big = Actor.make("LetterBig", { block: {}, note: { payload: { n: Schema.Number }, cast: true } })
const states: Array<WeakRef<object>> = []
const BigLive = Big.toLayer(
  Effect.sync(() => {
    const state = { data: new Array<number>(100_000).fill(7) }
    states.push(new WeakRef(state))
    return Big.of({ block: () => Effect.never, note: ({ n }) => Effect.sync(() => void state.data[n]) })
  })
)

const TestLayer = Inspector.layer({ interval: "1 hour", timeout: "5 seconds" }).pipe(
  Layer.provideMerge(
    layerForSides({ host, behaviours: Layer.mergeAll(WorkerLive, GateLive, RelayLive), secret: "letters", sides })
  )
)

let ids = 0
const on = <P extends Protocol.Protocol.Any>(side: Side, protocol: P, id: string, options: object = {}) =>
  Actor.spawn(protocol, { id, backend: side.backend, ...options }) as Effect.Effect<
    ActorRef.ActorRef<P>,
    ActorError.ActorError
  >

/** The next `n` dead letters for one target, in order (bounded: a lost letter fails the test). */
const lettersFor = (letters: Stream.Stream<DeadLetter.DeadLetter>, target: string, n: number) =>
  bounded(
    letters.pipe(
      Stream.filter((letter) => letter.target === target),
      Stream.take(n),
      Stream.runCollect
    ),
    `${n} dead letters for ${target}`
  )

/** A Worker on `side` with its sequential handler held at a gate until `release`. */
const held = (side: Side, mailbox?: { capacity: number; overflow: "fail" | "suspend" }) =>
  Effect.gen(function* () {
    const id = `letters-${side.name}-${++ids}`
    const ref = yield* on(side, Worker, id, mailbox === undefined ? {} : { mailbox })
    const gate = yield* Actor.getOrSpawn(Gate, { id: "gate", backend: side.backend })
    const name = `${id}-gate`
    const holding = yield* Effect.forkChild(ref.hold({ gate: name, tag: "held" }))
    yield* gate.await({ name: `entered:${name}` })
    return { ref, holding, release: gate.open({ name }) }
  })

layer(TestLayer, { excludeTestServices: true, timeout: 60_000 })("dead letters", (it) => {
  for (const side of sides) {
    describe(side.name, () => {
      it.effect("a cast its actor's node refuses is a dead letter there; a caster told MailboxFull is not", () =>
        Effect.gen(function* () {
          const system = yield* ActorSystem.ActorSystem
          const letters = yield* DeadLetter.subscribe()
          const { ref, holding, release } = yield* held(side, { capacity: 1, overflow: "fail" })
          yield* ref.record({ entry: "queued" })
          if (side === inProcess) {
            // in-process the caster hears of it, typed: nothing is lost behind its back
            for (let i = 0; i < 3; i++) {
              expect(reasonOf(yield* Effect.exit(ref.record({ entry: `refused-${i}` })))).toBe("MailboxFull")
            }
            expect(yield* DeadLetter.count).toBe(0)
          } else {
            // over a link the cast completed when it was handed over: the actor's node drops it, says so
            for (let i = 0; i < 3; i++) yield* ref.record({ entry: `refused-${i}` })
            const dropped = yield* lettersFor(letters, ref.id, 3)
            for (const letter of dropped) {
              expect(letter).toMatchObject({
                kind: "cast",
                name: "SpecWorker.record",
                reason: "MailboxFull",
                from: system.nodeId
              })
              expect(letter.node).not.toBe(system.nodeId)
            }
            // counted where it happened, and shown by the inspector
            const view = yield* (yield* Inspector.Inspector).sample
            const node = view.nodes.find((n) => n.id === dropped[0]!.node)
            assert(node !== undefined && node.status === "up", `${dropped[0]!.node} is not in the view`)
            expect(node.deadLetters).toBeGreaterThanOrEqual(3)
            expect(node.recentDeadLetters.slice(-3).map((l) => [l.target, l.name, l.reason, l.from])).toEqual(
              Array(3).fill([ref.id, "SpecWorker.record", "MailboxFull", system.nodeId])
            )
            const series = (yield* Metric.snapshot).find(
              (m) => m.id === "troupe_node_dead_letters_total" && m.attributes?.["node"] === node.id
            )
            expect(series?.state).toEqual({ count: node.deadLetters, incremental: false })
          }
          yield* release
          expect(yield* Fiber.join(holding)).toBe("held")
          expect(yield* ref.history()).toEqual(["held", "queued"])
        })
      )

      it.effect("casts still queued when an actor is killed are dead letters; the held call fails Killed", () =>
        Effect.gen(function* () {
          const system = yield* ActorSystem.ActorSystem
          const letters = yield* DeadLetter.subscribe()
          const { ref, holding } = yield* held(side)
          yield* ref.record({ entry: "a" })
          yield* ref.record({ entry: "b" })
          yield* Actor.kill(ref)
          expect(reasonOf(yield* Fiber.await(holding))).toBe("Killed")
          const dropped = yield* lettersFor(letters, ref.id, 2)
          expect(dropped.map((l) => [l.kind, l.name, l.reason, l.from])).toEqual([
            ["cast", "SpecWorker.record", "Killed", system.nodeId],
            ["cast", "SpecWorker.record", "Killed", system.nodeId]
          ])
          if (side === inProcess) expect(dropped[0]!.node).toBe(system.nodeId)
          else expect(dropped[0]!.node).not.toBe(system.nodeId)
        })
      )

      it.effect("a cast to a stopped actor fails typed in-process, and is a dead letter over a link", () =>
        Effect.gen(function* () {
          const letters = yield* DeadLetter.subscribe()
          const ref = yield* on(side, Worker, `letters-stopped-${side.name}-${++ids}`)
          yield* Actor.stop(ref)
          const exit = yield* Effect.exit(ref.record({ entry: "late" }))
          if (side === inProcess) expect(reasonOf(exit)).toBe("Stopped")
          else {
            expect(Exit.isSuccess(exit)).toBe(true)
            expect((yield* lettersFor(letters, ref.id, 1))[0]).toMatchObject({ name: "record", reason: "Stopped" })
          }
        })
      )

      it.effect("messages left unread when an inbox closes are dead letters on the inbox's node", () =>
        Effect.gen(function* () {
          const system = yield* ActorSystem.ActorSystem
          const letters = yield* DeadLetter.subscribe()
          const relay = yield* on(side, Relay, `letters-relay-${side.name}-${++ids}`)
          const to = yield* relay.open({ name: "unread", capacity: 8 })
          for (let seq = 0; seq < 3; seq++) yield* Channel.send(to, { from: "main", seq })
          expect(yield* relay.receive({ name: "unread", n: 1 })).toEqual([{ from: "main", seq: 0 }])
          yield* relay.close({ name: "unread" })
          const dropped = yield* lettersFor(letters, to.id, 2)
          expect(dropped.map((l) => [l.kind, l.name, l.reason, l.from])).toEqual([
            ["channel", "jobs", "ChannelClosed", system.nodeId],
            ["channel", "jobs", "ChannelClosed", system.nodeId]
          ])
          expect(dropped[0]!.node).toBe(to.node)
        })
      )
    })
  }

  for (const side of [worker, child, remote]) {
    it.effect(`${side.name}: casts queued or waiting for room when the actor is killed are dead letters: Killed`, () =>
      Effect.gen(function* () {
        const letters = yield* DeadLetter.subscribe()
        const { ref, holding } = yield* held(side, { capacity: 1, overflow: "suspend" })
        yield* ref.record({ entry: "queued" })
        yield* ref.record({ entry: "waiting for room" }) // completes: handed to the link
        // a call after the casts (one link, in order) proves the node has both, the second waiting
        const gate = yield* Actor.getOrSpawn(Gate, { id: "gate", backend: side.backend })
        yield* gate.isOpen({ name: "nothing" })
        yield* Actor.kill(ref)
        expect(reasonOf(yield* Fiber.await(holding))).toBe("Killed")
        const dropped = yield* lettersFor(letters, ref.id, 2)
        expect(dropped.map((l) => [l.name, l.reason])).toEqual([
          ["SpecWorker.record", "Killed"],
          ["SpecWorker.record", "Killed"]
        ])
      })
    )
  }

  it.effect("a channel's dead letters are logged with the receiver's services (its logger)", () =>
    Effect.gen(function* () {
      const logged: Array<string> = []
      const capture = Logger.make(({ message }) => void logged.push(String(message)))
      // a system of its own: the shared one has logged its first ten letters already
      yield* Effect.gen(function* () {
        const scope = yield* Scope.make()
        const inbox = yield* Channel.open(Jobs, { capacity: 4 }).pipe(Scope.provide(scope))
        yield* Channel.send(inbox.endpoint, { from: "me", seq: 1 })
        yield* Scope.close(scope, Exit.void)
      }).pipe(Effect.provide(Layer.mergeAll(ActorSystem.layer(), Logger.layer([capture]))))
      expect(
        logged.filter((m) => m.includes("dead letter") && m.includes("unread when the inbox closed"))
      ).toHaveLength(1)
    })
  )

  it.effect("the latest dead letters, kept for the inspector, do not keep their killed actor alive", () =>
    Effect.gen(function* () {
      setFlagsFromString("--expose-gc")
      const gc = runInNewContext("gc") as () => void
      const once = (id: string, casts: number) =>
        Effect.gen(function* () {
          const ref = yield* Actor.spawn(Big, { id })
          yield* Effect.forkChild(Effect.exit(ref.block()), { startImmediately: true })
          for (let i = 0; i < casts; i++) yield* ref.note({ n: i })
          yield* Actor.kill(ref)
        }).pipe(Effect.provide(BigLive))
      const before = yield* DeadLetter.count
      yield* once(`big-control-${++ids}`, 0) // no letters: shows that a killed actor can be collected here
      yield* once(`big-lettered-${++ids}`, 2)
      expect((yield* DeadLetter.count) - before).toBe(2)
      for (let i = 0; i < 3; i++) {
        yield* Effect.sleep("20 millis") // a WeakRef's target lives at least until the current job ends
        gc()
      }
      expect(states.map((state) => state.deref() === undefined).slice(-2)).toEqual([true, true])
    })
  )

  for (const side of [inProcess, worker]) {
    it.effect(`${side.name}: casts queued when supervision gives up on the actor are dead letters: Stopped`, () =>
      Effect.gen(function* () {
        const letters = yield* DeadLetter.subscribe()
        const ref = yield* on(side, Worker, `letters-given-up-${side.name}-${++ids}`, { supervision: Supervision.stop })
        const gate = yield* Actor.getOrSpawn(Gate, { id: "gate", backend: side.backend })
        const name = `${ref.id}-gate`
        const holding = yield* Effect.forkChild(ref.hold({ gate: name, tag: "held" }))
        yield* gate.await({ name: `entered:${name}` })
        const crashing = yield* Effect.forkChild(Effect.exit(ref.crash({ message: "boom" })), {
          startImmediately: true
        })
        yield* ref.record({ entry: "behind the crash" })
        yield* gate.isOpen({ name: "nothing" }) // the node has both messages queued (one link, in order)
        yield* gate.open({ name })
        expect(yield* Fiber.join(holding)).toBe("held")
        expect(reasonOf(yield* Fiber.join(crashing))).toBe("Defect")
        const dropped = yield* lettersFor(letters, ref.id, 1)
        expect(dropped.map((l) => [l.name, l.reason])).toEqual([["SpecWorker.record", "Stopped"]])
      })
    )
  }

  it.effect("every channel message a sender was told it sent is received or a dead letter", () =>
    Effect.gen(function* () {
      const letters = yield* DeadLetter.subscribe({ capacity: 100_000 })
      const before = yield* DeadLetter.count
      const relay = yield* on(worker, Relay, `letters-flood-${++ids}`)
      const scope = yield* Scope.make()
      const inbox = yield* Channel.open(Jobs, { capacity: 16 }).pipe(Scope.provide(scope))
      const flood = yield* Effect.forkChild(relay.send({ to: inbox.endpoint, n: 100_000, from: "relay" }))
      // one by one: a Stream pulls a chunk at a time, and what it pulls past take(n) would go uncounted
      const received = yield* Effect.forEach(Array.from({ length: 500 }), () => inbox.receive())
      // closed mid-flood: what was queued, and what is still on its way, has nowhere to go
      yield* Scope.close(scope, Exit.void)
      expect(reasonOf(yield* bounded(Fiber.await(flood), "the flood to stop"))).toBe("ChannelClosed")
      const sent = yield* relay.sent()
      expect(sent).toBeGreaterThanOrEqual(received.length)
      const dropped = yield* lettersFor(letters, inbox.endpoint.id, sent - received.length)
      expect(dropped.every((l) => l.kind === "channel" && l.reason === "ChannelClosed")).toBe(true)
      expect((yield* DeadLetter.count) - before).toBe(sent - received.length)
    })
  )
})
