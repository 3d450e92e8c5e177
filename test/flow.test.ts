/**
 * Flow control against one neighbour played by the test over an in-memory link: the test decides when
 * acknowledgements arrive. A sending fiber can go back to the event loop at any step (when its op
 * budget runs out), also between finding no credit and suspending to wait for it; an acknowledgement
 * handled in that gap must still let it go on. Sweeping the op budget and the turn the acknowledgement
 * comes in puts one of them in that gap; each case here hung before the wait looked again.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Scheduler, Schema } from "effect"
import { ActorSystem, Channel, Topic } from "troupe"
import { cbor } from "../src/internal/codec.ts"
import { CHANNEL_WINDOW, TOPIC_WINDOW } from "../src/internal/router.ts"
import * as F from "../src/internal/wire/frame.ts"
import { Link } from "../src/internal/wire/link.ts"
import { Jobs, News } from "./fixtures/channel-actors.ts"

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
  return { system, peer, say, sent, frames }
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
    let granted = options.window
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

describe("flow control when the sender yields between finding no credit and waiting", () => {
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
