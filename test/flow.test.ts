/**
 * Waits that follow a decision made one step earlier: a channel sender or topic publisher finding no
 * credit, a cast finding a full mailbox or no credit on a link, a stream's producer finding no demand. A fiber can go back to
 * the event loop between any two steps (when its op budget runs out), also between deciding to wait
 * and suspending; an acknowledgement, freed room or DEMAND handled in that gap must still let it go
 * on. Sweeping the op budget and the turn the acknowledgement comes in puts one of them in that gap
 * (the neighbour is played by the test over an in-memory link); each case here hung before the waits
 * looked again as they suspend.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Queue, Scheduler, Schema } from "effect"
import { Actor, ActorRef, ActorSystem, Channel, Topic } from "troupe"
import { cbor } from "../src/internal/codec.ts"
import { CHANNEL_WINDOW, TOPIC_WINDOW } from "../src/internal/router.ts"
import * as F from "../src/internal/wire/frame.ts"
import { Link } from "../src/internal/wire/link.ts"
import { Jobs, News } from "./fixtures/channel-actors.ts"
import { Worker, WorkerLive } from "./fixtures/spec-actors.ts"

/** An actor whose every cast waits for a token the test hands out: its mailbox fills up. */
const Slow = Actor.make("FlowSlow", { put: { payload: { n: Schema.Number }, cast: true } })
const tokens = Effect.runSync(Queue.unbounded<void>())
const SlowLive = Slow.toLayer(Effect.succeed(Slow.of({ put: () => Queue.take(tokens) })))

/** One turn of the event loop: what yielded fibers scheduled (with setImmediate) runs. */
const turn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** This node's system with a link to a neighbour whose frames the test writes and reads. */
const neighbour = Effect.gen(function* () {
  const system = yield* ActorSystem.ActorSystem
  const context = yield* Effect.context<never>()
  const frames: Array<Array<any>> = []
  const link = new Link(
    { write: (b) => void frames.push(...(cbor.decode(b) as Array<Array<any>>)), close: () => {} },
    { peerLabel: "peer", host: { system, behaviours: new Map(), context } }
  )
  const peer = `${system.nodeId}/peer`
  link.start()
  link.receive(cbor.encode([[F.HELLO, F.MAGIC, F.VERSION, peer, []]]))
  const say = (...frame: Array<unknown>) => link.receive(cbor.encode([frame]))
  const sent = (type: number) => frames.filter((f) => f[0] === type)
  return { system, peer, say, sent, frames, link }
})

/**
 * Runs `send(i)` n times in a fiber with op budget `budget`, one event-loop turn at a time; `peer()`
 * plays the neighbour after each turn. Each time the window is used up, the test acknowledges it
 * `delay` turns later (at whatever step the fiber is suspended then), and it expects all n to go out.
 */
const sweep = (options: {
  readonly budget: number
  readonly delay: number
  readonly n: number
  readonly send: (i: number) => Effect.Effect<void, unknown>
  readonly peer: () => void
  readonly window: number
  /** Credit before the first acknowledgement, if not one window. */
  readonly initial?: number
  readonly acknowledge: Effect.Effect<void, unknown>
  readonly out: () => number
}) =>
  Effect.gen(function* () {
    const { budget, n } = options
    const fiber = yield* Effect.forkChild(
      Effect.gen(function* () {
        for (let i = 0; i < n; i++) yield* options.send(i)
      }).pipe(Effect.provideService(Scheduler.MaxOpsBeforeYield, budget)),
      { startImmediately: true }
    )
    // the credit granted so far, and the turns left before the next acknowledgement (counted from the
    // turn that found the window used up)
    let granted = options.initial ?? options.window
    let countdown = -1
    for (let t = 0; t < 40 * n && fiber.pollUnsafe() === undefined; t++) {
      yield* turn
      options.peer()
      if (countdown === -1 && options.out() >= granted) countdown = options.delay
      if (countdown === 0) {
        yield* options.acknowledge
        granted += options.window
      }
      if (countdown >= 0) countdown--
    }
    const delay = options.delay
    expect({ budget, delay, done: fiber.pollUnsafe() !== undefined, out: options.out() }).toEqual({
      budget,
      delay,
      done: true,
      out: n
    })
    yield* Fiber.join(fiber)
  })

/**
 * Op budgets from 3 (fewer never gets past the yield itself) to 24, each with the acknowledgement 0
 * to 6 turns after the window ran out: one of them lands between the check and the wait.
 */
const budgets = Array.from({ length: 22 }, (_, i) => i + 3).flatMap((budget) =>
  Array.from({ length: 7 }, (_, delay) => ({ budget, delay }))
)

describe("a fiber that yields between deciding to wait and waiting", () => {
  it.live("a topic publisher gets the credit acknowledged meanwhile", () =>
    Effect.forEach(budgets, ({ budget, delay }) =>
      Effect.gen(function* () {
        const { say, sent } = yield* neighbour
        say(F.T_SUB, News.name)
        yield* sweep({
          budget,
          delay,
          n: 3 * TOPIC_WINDOW + 8,
          send: (i) => Topic.publish(News, { from: "here", seq: i }),
          peer: () => {},
          window: TOPIC_WINDOW,
          acknowledge: Effect.sync(() => say(F.T_ACK, News.name, TOPIC_WINDOW)),
          out: () => sent(F.T_PUB).length
        })
      }).pipe(Effect.provide(ActorSystem.layer()))
    )
  )

  it.live("a channel sender gets the credit acknowledged meanwhile", () =>
    Effect.forEach(budgets, ({ budget, delay }) =>
      Effect.gen(function* () {
        const { system, peer, say, sent } = yield* neighbour
        const endpoint = Schema.decodeSync(Jobs.Endpoint)({ node: peer, id: "inbox-1", channel: Jobs.name })
        let opened = false
        yield* sweep({
          budget,
          delay,
          n: 3 * CHANNEL_WINDOW + 8,
          send: (i) => Channel.send(endpoint, { from: "here", seq: i }),
          // the neighbour's inbox accepts the session with a full window
          peer: () => {
            const open = sent(F.CH_OPEN)[0]
            if (open !== undefined && !opened) {
              opened = true
              say(F.CH_OPENED, system.nodeId, peer, open[3], true, CHANNEL_WINDOW)
            }
          },
          window: CHANNEL_WINDOW,
          acknowledge: Effect.sync(() => say(F.CH_ACK, system.nodeId, peer, "inbox-1", CHANNEL_WINDOW)),
          out: () => sent(F.CH_MSG).length
        })
      }).pipe(Effect.provide(ActorSystem.layer()))
    )
  )

  it.live("a cast to a full mailbox (overflow: suspend) gets the room freed meanwhile", () =>
    Effect.forEach(budgets, ({ budget, delay }) =>
      Effect.gen(function* () {
        const capacity = 4
        const slow = yield* Actor.spawn(Slow, { id: "slow", mailbox: { capacity, overflow: "suspend" } })
        let sent = 0
        yield* sweep({
          budget,
          delay,
          n: 3 * capacity + 2,
          send: (i) => Effect.map(slow.put({ n: i }), () => void sent++),
          peer: () => {},
          window: capacity,
          // the mailbox holds `capacity` and the handler has taken one more
          initial: capacity + 1,
          acknowledge: Queue.offerAll(
            tokens,
            Array.from({ length: capacity }, () => undefined)
          ),
          out: () => sent
        })
        yield* Queue.offerAll(
          tokens,
          Array.from({ length: capacity + 1 }, () => undefined)
        )
        yield* Actor.stop(slow)
      }).pipe(Effect.provide(Layer.merge(SlowLive, ActorSystem.layer())))
    )
  )

  it.live("a caster to an actor on another node gets its casts acknowledged meanwhile", () =>
    Effect.forEach(budgets, ({ budget, delay }) =>
      Effect.gen(function* () {
        const { link, say, sent } = yield* neighbour
        const slow = ActorRef.make<typeof Slow>(link.endpoint(Slow, "far", 1))
        yield* sweep({
          budget,
          delay,
          n: 3 * F.CAST_WINDOW + 8,
          send: (i) => slow.put({ n: i }),
          peer: () => {},
          window: F.CAST_WINDOW,
          acknowledge: Effect.sync(() => say(F.CAST_ACK, "far", F.CAST_WINDOW)),
          out: () => sent(F.CAST).length
        })
      }).pipe(Effect.provide(ActorSystem.layer()))
    )
  )

  it.live("a stream's producer gets the demand granted meanwhile", () =>
    Effect.forEach(budgets, ({ budget, delay }) =>
      Effect.gen(function* () {
        const system = yield* ActorSystem.ActorSystem
        yield* Actor.spawn(Worker, { id: "streamer" })
        const incarnation = system.cellOf("streamer")!.incarnation
        // the link serves the stream in its own context: the budget applies to the producer
        const { say, sent } = yield* neighbour.pipe(Effect.provideService(Scheduler.MaxOpsBeforeYield, budget))
        const window = 16
        const n = 4 * window
        const out = () => sent(F.CHUNK).reduce((k, f) => k + (f[2] as Array<unknown>).length, 0)
        say(F.STREAM, 7, "streamer", incarnation, "naturals", { name: `flow-${budget}-${delay}` }, window)
        let granted = window
        let countdown = -1
        for (let t = 0; t < 40 * n && out() < n; t++) {
          yield* turn
          if (countdown === -1 && out() >= granted) countdown = delay
          if (countdown === 0) {
            say(F.DEMAND, 7, window)
            granted += window
          }
          if (countdown >= 0) countdown--
        }
        say(F.INTERRUPT, 7)
        expect({ budget, delay, out: Math.min(out(), n) }).toEqual({ budget, delay, out: n })
      }).pipe(Effect.provide(Layer.merge(WorkerLive, ActorSystem.layer())))
    )
  )

  it.live("a sender to a full inbox on its own node gets the room freed meanwhile", () =>
    Effect.forEach(budgets, ({ budget, delay }) =>
      Effect.gen(function* () {
        const capacity = 8
        const inbox = yield* Channel.open(Jobs, { capacity })
        let sent = 0
        yield* sweep({
          budget,
          delay,
          n: 3 * capacity + 2,
          send: (i) => Effect.map(Channel.send(inbox.endpoint, { from: "here", seq: i }), () => void sent++),
          peer: () => {},
          window: capacity,
          // the receiver takes what the window holds: room for as many more
          acknowledge: Effect.asVoid(Effect.forEach(Array.from({ length: capacity }), () => inbox.receive())),
          out: () => sent
        })
      }).pipe(Effect.scoped, Effect.provide(ActorSystem.layer()))
    )
  )
})
