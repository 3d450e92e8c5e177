/**
 * Actor to actor: a Sender's handler gets (or lazily spawns) a Receiver by id and calls it, the way
 * the Zig seed's `ctx.getActor` does. The Receiver knows its own id through ActorContext.
 * Run: npx tsx examples/actor-to-actor.ts
 */
import { Effect, Layer, Ref, Schema } from "effect"
import { Actor, ActorContext } from "troupe"
import { check, run } from "./support/check.ts"

const Receiver = Actor.make("Receiver", {
  process: { payload: { message: Schema.String }, success: Schema.String },
  received: { success: Schema.Array(Schema.String) }
})

const Sender = Actor.make("Sender", {
  send: { payload: { message: Schema.String }, success: Schema.String }
})

const ReceiverLive = Receiver.toLayer(
  Effect.gen(function* () {
    const { id } = yield* ActorContext
    const received = yield* Ref.make<ReadonlyArray<string>>([])
    return Receiver.of({
      process: ({ message }) => Ref.update(received, (r) => [...r, message]).pipe(Effect.as(`${id} got "${message}"`)),
      received: () => Ref.get(received)
    })
  })
)

const SenderLive = Sender.toLayer(
  Effect.succeed(
    Sender.of({
      send: ({ message }) =>
        Effect.gen(function* () {
          const receiver = yield* Actor.getOrSpawn(Receiver, { id: "receiver" })
          return yield* receiver.process({ message })
        })
    })
  )
).pipe(Layer.provide(ReceiverLive))

const program = Effect.gen(function* () {
  const sender = yield* Actor.spawn(Sender, { id: "sender" })
  console.log(yield* sender.send({ message: "hello" }))
  console.log(yield* sender.send({ message: "world" }))
  const receiver = yield* Actor.lookup(Receiver, "receiver")
  yield* check("the receiver was spawned on first use and got both", yield* receiver.received(), ["hello", "world"])
})

run(program.pipe(Effect.provide(SenderLive)))
