/**
 * A host module with CPU-bound work: a Hasher that stretches a passphrase with many rounds of SHA-256.
 * Work like this blocks the thread it runs on, which is why examples/pool.ts spreads it over workers.
 */
import { createHash } from "node:crypto"
import { Effect, Schema } from "effect"
import { Actor, ActorContext } from "troupe"

export const Hasher = Actor.make("Hasher", {
  stretch: {
    payload: { passphrase: Schema.String, rounds: Schema.Int },
    success: Schema.Struct({ hex: Schema.String, by: Schema.String })
  }
})

/** The work itself, also run by the example in its own thread to check the answers. */
export const stretch = (passphrase: string, rounds: number): string => {
  let digest = createHash("sha256").update(passphrase).digest()
  for (let i = 1; i < rounds; i++) digest = createHash("sha256").update(digest).digest()
  return digest.toString("hex")
}

export const HasherLive = Hasher.toLayer(
  Effect.gen(function* () {
    const { id } = yield* ActorContext
    return Hasher.of({
      stretch: ({ passphrase, rounds }) => Effect.sync(() => ({ hex: stretch(passphrase, rounds), by: id }))
    })
  })
)
