/**
 * Host module for examples/call-cycles.ts: a Ledger (served in a worker thread) that asks an Auditor
 * (in the main program) to approve each entry. The Auditor protocol lives here too, because the
 * Ledger's payload carries an Auditor ref; the Auditor's behaviour is the example's own.
 */
import { Effect, Ref, Schema } from "effect"
import { Actor } from "troupe"

export const Auditor = Actor.make("Auditor", {
  /** Approves an entry; the example's Auditor looks at the ledger's balance first. */
  approve: { payload: { amount: Schema.Number }, success: Schema.Boolean },
  /** The same, with the balance handed over in the message instead of asked for. */
  approveGiven: { payload: { amount: Schema.Number, balance: Schema.Number }, success: Schema.Boolean }
})

export const Ledger = Actor.make("Ledger", {
  /** Asks the auditor, waiting for its answer, then books the amount. */
  record: { payload: { amount: Schema.Number, auditor: Auditor.Ref }, success: Schema.Number },
  /** The same, handing the auditor the balance, so that it need not call back. */
  recordGiven: { payload: { amount: Schema.Number, auditor: Auditor.Ref }, success: Schema.Number },
  balance: { success: Schema.Number }
})

export const LedgerLive = Ledger.toLayer(
  Effect.gen(function* () {
    const balance = yield* Ref.make(100)
    const book = (amount: number, approved: boolean) =>
      approved ? Ref.updateAndGet(balance, (b) => b + amount) : Ref.get(balance)
    return Ledger.of({
      record: ({ amount, auditor }) => Effect.flatMap(auditor.approve({ amount }), (ok) => book(amount, ok)),
      recordGiven: ({ amount, auditor }) =>
        Effect.gen(function* () {
          const ok = yield* auditor.approveGiven({ amount, balance: yield* Ref.get(balance) })
          return yield* book(amount, ok)
        }),
      balance: () => Ref.get(balance)
    })
  })
)
