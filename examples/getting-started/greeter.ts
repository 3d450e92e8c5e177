/**
 * Getting started (docs/getting-started.md), step 1: a protocol and its behaviour. This module is
 * also the host module that worker threads, child processes and `troupe serve` load.
 */
import { Effect, Ref, Schema } from "effect"
import { threadId } from "node:worker_threads"
import { Actor } from "troupe"

/** The protocol: the Greeter's methods, as Schemas. */
export const Greeter = Actor.make("Greeter", {
  greet: { payload: { name: Schema.String }, success: Schema.String },
  count: { success: Schema.Number }
})

/** The behaviour: state in a Ref, one handler per method. */
export const GreeterLive = Greeter.toLayer(
  Effect.gen(function* () {
    const greeted = yield* Ref.make(0)
    return Greeter.of({
      greet: ({ name }) =>
        Ref.updateAndGet(greeted, (n) => n + 1).pipe(
          Effect.map((n) => `Hello, ${name}! (greeting #${n}, from pid ${process.pid}, thread ${threadId})`)
        ),
      count: () => Ref.get(greeted)
    })
  })
)
