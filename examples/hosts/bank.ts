/**
 * Host module for examples/typed-errors.ts: a Bank account whose protocol declares its domain errors,
 * checks amounts with a Schema filter, and has a buggy method (a defect) and a slow one.
 */
import { Effect, Ref, Schema } from "effect"
import { Actor } from "troupe"

export class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", {
  balance: Schema.Number,
  wanted: Schema.Number
}) {}
export class AccountFrozen extends Schema.TaggedError<AccountFrozen>()("AccountFrozen", { account: Schema.String }) {}

/** A Schema with a check: a negative amount is refused wherever it is encoded or decoded. */
const Amount = Schema.Number.check(Schema.isGreaterThan(0))

export const Bank = Actor.make("Bank", {
  deposit: { payload: { amount: Amount }, success: Schema.Number },
  withdraw: {
    payload: { amount: Amount },
    success: Schema.Number,
    error: Schema.Union([InsufficientFunds, AccountFrozen])
  },
  freeze: {},
  balance: { success: Schema.Number },
  /** A bug: it throws. */
  audit: { success: Schema.String },
  /** Takes its time. */
  report: { payload: { millis: Schema.Number }, success: Schema.String }
})

export const BankLive = Bank.toLayer(
  Effect.gen(function* () {
    const balance = yield* Ref.make(0)
    const frozen = yield* Ref.make(false)
    return Bank.of({
      deposit: ({ amount }) => Ref.updateAndGet(balance, (b) => b + amount),
      withdraw: ({ amount }) =>
        Effect.gen(function* () {
          if (yield* Ref.get(frozen)) return yield* new AccountFrozen({ account: "main" })
          const current = yield* Ref.get(balance)
          if (amount > current) return yield* new InsufficientFunds({ balance: current, wanted: amount })
          return yield* Ref.updateAndGet(balance, (b) => b - amount)
        }),
      freeze: () => Ref.set(frozen, true),
      balance: () => Ref.get(balance),
      audit: () => {
        throw new RangeError(`ledger out of balance in process ${process.pid}`)
      },
      report: ({ millis }) => Effect.sleep(millis).pipe(Effect.as(`report after ${millis} ms`))
    })
  })
)
