/**
 * Refs inside messages: a Tally in this process, WordCounters in a worker thread and in a child
 * process. The worker's counter spawns a Cache next to itself and hands its ref out in a reply; both
 * counters then get refs to the Tally and to that Cache inside their payloads and use them. The child
 * reaches the worker's Cache through this process (the hub relays the requests), and the Tally in here.
 * Run: npx tsx examples/refs-in-messages.ts
 */
import { Effect, Layer } from "effect"
import { Actor, ActorRef } from "troupe"
import { Subprocess, Workers } from "troupe/node"
import { TallyLive, Tally, WordCounter } from "./hosts/words.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/words.ts", import.meta.url)

const program = Effect.gen(function* () {
  const tally = yield* Actor.spawn(Tally, { id: "tally" })
  const inWorker = yield* Actor.spawn(WordCounter, { id: "counter-w", backend: Workers })
  const inChild = yield* Actor.spawn(WordCounter, { id: "counter-c", backend: Subprocess })

  // a ref that came back in a reply: the Cache lives next to the worker's counter
  const cache = yield* inWorker.openCache({ id: "cache" })
  console.log(`  the cache runs on ${ActorRef.location(cache)}`)
  yield* check("the cache runs in the worker", ActorRef.location(cache), ActorRef.location(inWorker))

  const first = yield* inWorker.count({ text: "the quick brown fox", tally, cache })
  const second = yield* inChild.count({ text: "jumps over the lazy dog", tally, cache })
  const third = yield* inChild.count({ text: "the quick brown fox", tally, cache })
  yield* check("the worker counted 4 words (cache miss)", first, { words: 4, cached: false })
  yield* check("the child counted 5 words, using the worker's cache", second, { words: 5, cached: false })
  yield* check("the child found the worker's count in the cache", third, { words: 4, cached: true })
  yield* check("the cache holds both texts", yield* cache.size(), 2)
  yield* check("the tally here got all three reports", yield* tally.total(), { reports: 3, words: 13 })
})

run(program.pipe(Effect.provide(Layer.mergeAll(TallyLive, Workers.layer({ host }), Subprocess.layer({ host })))))
