/**
 * A pub/sub news feed: readers subscribe in-process, in a worker thread and in a child process; the
 * main program publishes, and every reader gets every headline, in order. Publications only travel to
 * nodes that have subscribers.
 * Run: npx tsx examples/news-feed.ts
 */
import { Effect, Layer } from "effect"
import { Actor, ActorRef, Topic } from "troupe"
import { Subprocess, Workers } from "troupe/node"
import { News, Reader, ReaderLive } from "./hosts/feeds.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/feeds.ts", import.meta.url)
const headlines = ["Troupe ships", "Actors everywhere", "Channels cross the wire", "Topics fan out", "Fin"]

const program = Effect.gen(function* () {
  const readers = [
    yield* Actor.spawn(Reader, { id: "reader-local" }),
    yield* Actor.spawn(Reader, { id: "reader-worker", backend: Workers }),
    yield* Actor.spawn(Reader, { id: "reader-child", backend: Subprocess })
  ]
  for (const reader of readers) yield* reader.follow() // subscribed before this returns
  for (const [n, headline] of headlines.entries()) yield* Topic.publish(News, { headline, n })
  for (const reader of readers) {
    const got = yield* reader.read({ count: headlines.length })
    yield* check(`${reader.id} on ${ActorRef.location(reader)} got every headline in order`, got, headlines)
  }
})

run(program.pipe(Effect.provide(Layer.mergeAll(ReaderLive, Workers.layer({ host }), Subprocess.layer({ host })))))
