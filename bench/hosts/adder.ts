/**
 * The Troupe host module of the wire benchmarks (`Workers.layer({ host })`, `Subprocess.layer({ host })`):
 * the `Adder` protocol and its behaviour. The parent imports `Adder` from here to spawn it; the nodes
 * import this module and serve the exported Layer.
 *
 * `hold` never answers: the fault-latency measurement keeps one in flight while it kills the node.
 * `note` is a cast that adds to a running total (`noted` reads it), for the casts table.
 */
import { Effect, Schema } from "effect"
import { Actor } from "troupe"

export const Adder = Actor.make("Adder", {
  add: { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number },
  hold: { success: Schema.Number },
  note: { payload: { a: Schema.Number, b: Schema.Number }, cast: true },
  noted: { success: Schema.Number }
})

export const AdderLive = Adder.toLayer(
  Effect.sync(() => {
    let noted = 0
    return Adder.of({
      add: ({ a, b }) => Effect.succeed(a + b),
      hold: () => Effect.never,
      // a plain value: answered without a fiber, as the raw peers' one-way messages are
      note: ({ a, b }) => {
        noted += a + b
      },
      noted: () => Effect.succeed(noted)
    })
  })
)
