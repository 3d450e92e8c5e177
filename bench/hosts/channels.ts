/**
 * The host module of channels.bench.ts (`Workers.layer({ host })`, `Subprocess.layer({ host })`, and
 * provided in-process): a channel and a topic of `{ seq }` messages, and three actors that use them
 * from their handlers.
 *
 *   - Sink opens an inbox (in its own scope: it lives as long as the actor) and takes messages from it,
 *     one `receive()` at a time, checking that their `seq`s follow on from the last one it took.
 *   - Source sends `seq`s from..from+n-1 to an endpoint, one `Channel.send` at a time.
 *   - Subscribers starts `count` subscriber fibers, each holding a `Topic.subscribe` of its own and
 *     checking that every publication's `seq` follows the one before; `until` waits for all of them to
 *     have received a given `seq`, and reports what they received so far.
 */
import { Effect, Schema, Stream } from "effect"
import { Actor, Channel, Topic } from "troupe"
import { SequenceTracker } from "../lib/sequence.ts"

export const Message = Schema.Struct({ seq: Schema.Number })
export const Flow = Channel.make("bench-flow", Message)
export const Ticks = Topic.make("bench-ticks", Message)

export const Sink = Actor.make("Sink", {
  open: { payload: { capacity: Schema.Number }, success: Flow.Endpoint },
  /** Takes n messages; answers the last `seq` taken, or -1 if one arrived out of order. */
  take: { payload: { n: Schema.Number }, success: Schema.Number }
})

export const Source = Actor.make("Source", {
  /** Sends `seq` from, from + 1, ..., from + n - 1; answers n. */
  send: { payload: { to: Flow.Endpoint, n: Schema.Number, from: Schema.Number }, success: Schema.Number }
})

export const Progress = Schema.Struct({
  /** Subscribers on this node that have received the awaited `seq`. */
  reached: Schema.Number,
  /** Publications received by all subscribers on this node, since they started. */
  deliveries: Schema.Number,
  /** Publications that did not follow on from the one before (out of order, or one missing). */
  errors: Schema.Number
})

export const Subscribers = Actor.make("Subscribers", {
  /** Starts `count` subscriber fibers (in the actor's scope), each with a buffer of `capacity`. */
  start: { payload: { count: Schema.Number, capacity: Schema.Number }, success: Schema.Number },
  /** Waits until every subscriber here has received publication `seq`. */
  until: { payload: { seq: Schema.Number }, success: Progress }
})

export const SinkLive = Sink.toLayer(
  Effect.gen(function* () {
    let inbox: Channel.Inbox<typeof Message.Type> | undefined
    let next = 0
    let broken = false
    return Sink.of({
      open: ({ capacity }) =>
        Effect.map(Channel.open(Flow, { capacity }), (opened) => {
          inbox = opened
          return opened.endpoint
        }),
      take: ({ n }) =>
        Effect.gen(function* () {
          for (let i = 0; i < n; i++) {
            // no timeout here (a timeout per receive costs a timer and a fiber per message): the
            // bench bounds the whole take instead
            const m = yield* inbox!.receive()
            if (m.seq !== next) broken = true
            next = m.seq + 1
          }
          return broken ? -1 : next - 1
        })
    })
  })
)

export const SourceLive = Source.toLayer(
  Effect.succeed(
    Source.of({
      send: ({ to, n, from }) =>
        Effect.gen(function* () {
          for (let i = 0; i < n; i++) yield* Channel.send(to, { seq: from + i })
          return n
        })
    })
  )
)

export const SubscribersLive = Subscribers.toLayer(
  Effect.sync(() => {
    const tracker = new SequenceTracker()
    return Subscribers.of({
      start: ({ count, capacity }) =>
        Effect.gen(function* () {
          for (let k = 0; k < count; k++) {
            const i = tracker.addSubscriber()
            const stream = yield* Topic.subscribe(Ticks, { capacity, strategy: "suspend" })
            yield* Effect.forkScoped(Stream.runForEach(stream, (m) => Effect.sync(() => tracker.received(i, m.seq))))
          }
          return tracker.subscribers
        }),
      until: ({ seq }) => tracker.until(seq)
    })
  })
)
