/**
 * The host module of refs.bench.ts: the wire benchmarks' `Adder`, and a `Driver` that is handed a ref
 * to an Adder inside its payload and calls it `n` times from its own node, with 64 calls in flight
 * (`pipelined`) or one at a time (`sequential`), answering the sum of the replies.
 */
import { Effect, Layer, Schema } from "effect"
import { Actor, type ActorRef } from "troupe"
import { Adder, AdderLive } from "./adder.ts"

export { Adder, AdderLive }

export const Driver = Actor.make("Driver", {
  pipelined: { payload: { target: Adder.Ref, n: Schema.Number }, success: Schema.Number },
  sequential: { payload: { target: Adder.Ref, n: Schema.Number }, success: Schema.Number }
})

const loop = (target: ActorRef.ActorRef<typeof Adder>, n: number) =>
  Effect.gen(function* () {
    let sum = 0
    for (let i = 0; i < n; i++) sum += yield* target.add({ a: i, b: 1 })
    return sum
  })

export const DriverLive = Driver.toLayer(
  Effect.succeed(
    Driver.of({
      pipelined: ({ target, n }) =>
        Effect.map(
          Effect.all(
            Array.from({ length: 64 }, () => loop(target, n / 64)),
            { concurrency: "unbounded" }
          ),
          (sums) => sums.reduce((a, b) => a + b, 0)
        ),
      sequential: ({ target, n }) => loop(target, n)
    })
  )
).pipe(Layer.provideMerge(AdderLive))
