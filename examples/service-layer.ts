/**
 * Actors as services: the protocol is the service key, a Layer spawns the actor and provides its ref,
 * and application code just writes `yield* Counter`. Moving the actor elsewhere changes the Layer only.
 * Run: npx tsx examples/service-layer.ts
 */
import { Effect, Layer, Ref, Schema } from "effect"
import { Actor } from "troupe"
import { check, run } from "./support/check.ts"

const Counter = Actor.make("Counter", {
  increment: { payload: { by: Schema.Number }, success: Schema.Number }
})

const CounterLive = Counter.toLayer(
  Effect.gen(function* () {
    const n = yield* Ref.make(0)
    return Counter.of({ increment: ({ by }) => Ref.updateAndGet(n, (x) => x + by) })
  })
)

// application code: no spawning, no ids, just the service
const app = Effect.gen(function* () {
  const counter = yield* Counter
  yield* counter.increment({ by: 2 })
  return yield* counter.increment({ by: 40 })
})

// wiring: the actor "counter" runs in-process; a worker-thread Layer would be the only change
const AppLive = Counter.layer({ id: "counter" }).pipe(Layer.provide(CounterLive))

run(
  Effect.gen(function* () {
    yield* check("the counter service", yield* app.pipe(Effect.provide(AppLive)), 42)
  })
)
