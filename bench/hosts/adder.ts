/**
 * The Troupe host module of the wire benchmarks (`Workers.layer({ host })`, `Subprocess.layer({ host })`):
 * the `Adder` protocol and its behaviour. The parent imports `Adder` from here to spawn it; the nodes
 * import this module and serve the exported Layer.
 *
 * `hold` never answers: the fault-latency measurement keeps one in flight while it kills the node.
 */
import { Effect, Schema } from "effect"
import { Actor } from "troupe"

export const Adder = Actor.make("Adder", {
  add: { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number },
  hold: { success: Schema.Number }
})

export const AdderLive = Adder.toLayer(
  Effect.succeed(
    Adder.of({
      add: ({ a, b }) => Effect.succeed(a + b),
      hold: () => Effect.never
    })
  )
)
