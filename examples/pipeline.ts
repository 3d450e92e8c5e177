/**
 * A schema-checked pipeline over three nodes, its stages connected by typed channels:
 *
 *   this program --lines--> Parser (worker thread) --Order--> Pricer (child process) --Priced--> this program
 *
 * The Parser only splits lines; the Order Schema holds the rules (SKU pattern, positive quantity).
 * A record that breaks them is refused when it leaves the worker: `Channel.send` fails with
 * ActorError reason DecodeError, which the Parser catches and reports, and the pipeline carries on.
 * Run: npx tsx examples/pipeline.ts
 */
import { Effect, Layer, Stream } from "effect"
import { Actor, Channel } from "troupe"
import { Subprocess, Workers } from "troupe/node"
import { Parser, PricedOrders, Pricer } from "./hosts/orders.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/orders.ts", import.meta.url)

const csv = ["1,BOK-001,2", "2,PEN-010,8", "3,INK-100,-1", "4,bok-7,1", "5,INK-042,3"]

const program = Effect.gen(function* () {
  const results = yield* Channel.open(PricedOrders) // the sink: an inbox in this program
  const pricer = yield* Actor.spawn(Pricer, { id: "pricer", backend: Subprocess })
  const parser = yield* Actor.spawn(Parser, { id: "parser", backend: Workers })
  const orders = yield* pricer.start({ out: results.endpoint })
  const lines = yield* parser.start({ out: orders })

  yield* Effect.forEach(csv, (line) => Channel.send(lines, line))
  const priced = yield* results.stream.pipe(Stream.take(3), Stream.runCollect, Effect.timeout("10 seconds"))
  for (const p of priced) console.log(`  order ${p.id}: ${p.sku} = ${p.total.toFixed(2)}, priced by ${p.by}`)
  yield* check(
    "three good orders priced, in order",
    priced.map((p) => [p.id, p.total]),
    [
      [1, 25],
      [2, 10],
      [5, 21]
    ]
  )

  const rejected = yield* parser.rejected() // the last line was good, so every reject is in
  for (const r of rejected) console.log(`  rejected "${r.line}": ${r.reason.replace(/\n\s*/g, " ")}`)
  yield* check(
    "two bad records refused by the Order Schema with a DecodeError",
    rejected.map((r) => [r.line, /^DecodeError: .*(quantity|sku)/s.exec(r.reason)?.[1]]),
    [
      ["3,INK-100,-1", "quantity"],
      ["4,bok-7,1", "sku"]
    ]
  )
}).pipe(Effect.scoped)

run(program.pipe(Effect.provide(Layer.merge(Workers.layer({ host }), Subprocess.layer({ host })))))
