/**
 * Call cycles, refused at once. The Ledger (in a worker thread) waits for the Auditor (here) to approve
 * an entry; the Auditor calls back the Ledger for its balance. That call would queue behind the Ledger's
 * handler, which waits for the Auditor: a deadlock that would hang until a timeout. Troupe finds the
 * cycle across the thread boundary and fails the call back with ActorError reason Deadlock; handing the
 * data over in the message (or casting) instead of calling back avoids it.
 * Run: npx tsx examples/call-cycles.ts
 */
import { Effect, Layer } from "effect"
import { Actor, ActorSystem } from "troupe"
import { Workers } from "troupe/node"
import { Auditor, Ledger } from "./hosts/ledger.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/ledger.ts", import.meta.url)

/** The Auditor, in this process. It reaches the ledger as a service: `yield* Ledger`. */
const AuditorLive = Auditor.toLayer(
  Effect.gen(function* () {
    const ledger = yield* Ledger
    return Auditor.of({
      approve: ({ amount }) =>
        ledger.balance().pipe(
          Effect.map((balance) => balance + amount >= 0),
          Effect.catchReason("ActorError", "Deadlock", (e) => {
            console.log(`  the auditor's call back was refused: ${e.message}`)
            return Effect.succeed(false)
          })
        ),
      approveGiven: ({ amount, balance }) => Effect.succeed(balance + amount >= 0)
    })
  })
)

const program = Effect.gen(function* () {
  const ledger = yield* Ledger
  const auditor = yield* Actor.spawn(Auditor, { id: "auditor" })

  // the Ledger waits for the Auditor, which calls back the Ledger: refused at once, not hung
  yield* check(
    "a cycle through a worker thread: the entry is not booked",
    yield* ledger.record({ amount: 50, auditor }),
    100
  )

  // the same exchange without the call back
  yield* check("the balance handed over instead: booked", yield* ledger.recordGiven({ amount: 50, auditor }), 150)
  yield* check("the ledger carries on", yield* ledger.balance(), 150)
})

run(
  program.pipe(
    Effect.provide(
      AuditorLive.pipe(
        Layer.provideMerge(Ledger.layer({ id: "ledger", backend: Workers })),
        Layer.provideMerge(Workers.layer({ host })),
        Layer.provideMerge(ActorSystem.layer())
      )
    )
  )
)
