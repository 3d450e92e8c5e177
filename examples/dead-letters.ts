/**
 * Dead letters. A cast completes once it is handed over; if the actor's node then drops it (here: a
 * full mailbox with overflow "fail", in a worker thread, and casts still queued when an actor is
 * killed), nobody is waiting to be told. That node counts it, logs the first few, and publishes it to
 * `DeadLetter.subscribe`, which hears every node this one reaches.
 * Run: npx tsx examples/dead-letters.ts
 */
import { Effect, Fiber, Layer, Stream } from "effect"
import { Actor, ActorSystem, DeadLetter } from "troupe"
import { Workers } from "troupe/node"
import { Printer, PrinterLive } from "./hosts/printer.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/printer.ts", import.meta.url)

const program = Effect.gen(function* () {
  const letters = yield* DeadLetter.subscribe()
  const show = (letter: DeadLetter.DeadLetter) =>
    `${letter.name} to "${letter.target}" on ${letter.node === letter.from ? "this node" : "the worker"}: ${letter.reason}`

  // two pages fit in the mailbox while the printer is jammed; the worker drops the other three
  const printer = yield* Actor.spawn(Printer, {
    id: "printer",
    backend: Workers,
    mailbox: { capacity: 2, overflow: "fail" }
  })
  const jam = yield* Effect.forkChild(printer.jam({ millis: 500 }), { startImmediately: true })
  for (let page = 1; page <= 5; page++) yield* printer.print({ page }) // each cast completes
  const dropped = yield* letters.pipe(Stream.take(3), Stream.runCollect, Effect.timeout("5 seconds"))
  for (const letter of dropped) console.log(`  dead letter: ${show(letter)}`)
  yield* check(
    "three casts refused by the worker come back as dead letters",
    dropped.map((l) => l.reason),
    ["MailboxFull", "MailboxFull", "MailboxFull"]
  )
  yield* Fiber.join(jam)
  yield* check("the printer printed what its mailbox took", yield* printer.printed(), [1, 2])

  // in-process, the caster of a cast to a full "fail" mailbox is told at once, typed: no dead letter
  const local = yield* Actor.spawn(Printer, { id: "local", mailbox: { capacity: 2, overflow: "fail" } })
  yield* Effect.forkChild(local.jam({ millis: 500 }), { startImmediately: true })
  yield* local.print({ page: 1 })
  yield* local.print({ page: 2 })
  const refused = yield* Effect.flip(local.print({ page: 3 }))
  yield* check("in-process, the caster gets MailboxFull itself", refused.reason._tag, "MailboxFull")

  // casts still queued when an actor is killed: dead letters on its own node
  yield* Actor.kill(local)
  const killed = yield* letters.pipe(Stream.take(2), Stream.runCollect, Effect.timeout("5 seconds"))
  for (const letter of killed) console.log(`  dead letter: ${show(letter)}`)
  yield* check(
    "the two queued pages of the killed printer",
    killed.map((l) => l.reason),
    ["Killed", "Killed"]
  )
  yield* check("this node counted its own", yield* DeadLetter.count, 2)
})

run(
  program.pipe(
    Effect.scoped,
    Effect.provide(Layer.mergeAll(PrinterLive, Workers.layer({ host })).pipe(Layer.provideMerge(ActorSystem.layer())))
  )
)
