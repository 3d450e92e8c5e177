/**
 * The Troupe host module of the CPU-bound half of bench/pool.bench.ts (`Workers.layer({ host })`): a
 * Hasher whose one call runs the SHA-256 stretching job of ./stretch.ts on the worker's thread. The
 * parent imports `Hasher` from here to spawn it, or a pool of it; the workers serve `HasherLive`.
 */
import { Effect, Schema } from "effect"
import { Actor } from "troupe"
import { stretch } from "./stretch.ts"

export const Hasher = Actor.make("Hasher", {
  stretch: { payload: { key: Schema.Number, rounds: Schema.Number }, success: Schema.Number }
})

export const HasherLive = Hasher.toLayer(
  Effect.succeed(Hasher.of({ stretch: ({ key, rounds }) => Effect.sync(() => stretch(key, rounds)) }))
)
