/**
 * A pool: one ref over several actors, spread over a pool of worker threads. CPU-bound calls (stretching
 * passphrases) go to whichever member has the fewest calls in flight, so both workers compute at once
 * while this thread stays free. The same calls to a single actor queue up in its one mailbox.
 * Run: npx tsx examples/pool.ts
 */
import { Effect } from "effect"
import { Actor, ActorRef } from "troupe"
import { Workers } from "troupe/node"
import { Hasher, stretch } from "./hosts/hashing.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/hashing.ts", import.meta.url)
const passphrases = ["correct", "horse", "battery", "staple", "tr0ub4dor", "&3", "hunter2", "swordfish"]
const rounds = 20_000

const program = Effect.gen(function* () {
  // members "hashers#0" and "hashers#1": member n runs on worker n
  const pool = yield* Actor.spawnPool(Hasher, { id: "hashers", size: 2, backend: Workers })
  const single = yield* Actor.spawn(Hasher, { id: "lone-hasher", backend: Workers })

  const timed = <A>(self: Effect.Effect<A, unknown>) =>
    Effect.gen(function* () {
      const start = performance.now()
      const result = yield* self
      return [result, Math.round(performance.now() - start)] as const
    })
  const all = (ref: typeof pool) =>
    Effect.forEach(passphrases, (passphrase) => ref.stretch({ passphrase, rounds }), { concurrency: "unbounded" })

  const [pooled, pooledMs] = yield* timed(all(pool))
  const [alone, aloneMs] = yield* timed(all(single))
  console.log(
    `  ${passphrases.length} passphrases × ${rounds} rounds: one actor ${aloneMs} ms, a pool of two ${pooledMs} ms`
  )

  const expected = passphrases.map((p) => stretch(p, rounds))
  yield* check(
    "the pool's answers are right",
    pooled.map((r) => r.hex),
    expected
  )
  yield* check(
    "the single actor's answers are the same",
    alone.map((r) => r.hex),
    expected
  )
  yield* check("both members took calls", [...new Set(pooled.map((r) => r.by))].sort(), ["hashers#0", "hashers#1"])
  const places = Actor.members(pool).map(ActorRef.location) // "n-…/worker-1.0" and "n-…/worker-1.1"
  yield* check("each member has a worker of its own", places.length === 2 && places[0] !== places[1], true)
}).pipe(Effect.scoped) // closing the scope stops the pool's members

run(program.pipe(Effect.provide(Workers.layer({ host, size: 2 }))))
