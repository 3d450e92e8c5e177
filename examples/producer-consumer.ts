/**
 * A producer and a consumer on different backends, talking over a typed channel: the consumer lives in
 * a child process and owns the inbox; the producer lives in a worker thread and gets the inbox's
 * endpoint inside an ordinary actor call. Troupe routes the messages worker -> main -> child, with
 * back-pressure (the consumer's inbox holds 16 messages; the producer waits when it falls behind).
 * Run: npx tsx examples/producer-consumer.ts
 */
import { Effect, Layer } from "effect"
import { Actor, ActorRef } from "troupe"
import { Subprocess, Workers } from "troupe/node"
import { Consumer, Producer } from "./hosts/feeds.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/feeds.ts", import.meta.url)

const program = Effect.gen(function* () {
  const consumer = yield* Actor.spawn(Consumer, { id: "consumer", backend: Subprocess })
  const producer = yield* Actor.spawn(Producer, { id: "producer", backend: Workers })
  console.log(`  consumer on ${ActorRef.location(consumer)}, producer on ${ActorRef.location(producer)}`)

  const inbox = yield* consumer.inbox() // a serializable endpoint
  const sent = yield* producer.produce({ to: inbox, count: 1000 })
  const report = yield* consumer.handled({ count: sent })

  console.log(`  ${report.where} handled ${report.seqs.length} jobs`)
  yield* check("all 1000 jobs arrived", report.seqs.length, 1000)
  yield* check(
    "in the order they were sent",
    report.seqs.every((s, i) => s === i),
    true
  )
  yield* check(
    "and the sum is right",
    report.sum,
    Array.from({ length: 1000 }, (_, i) => i * i).reduce((a, b) => a + b)
  )
})

run(program.pipe(Effect.provide(Layer.merge(Workers.layer({ host }), Subprocess.layer({ host })))))
