/**
 * Multiple methods: calls, a declared error, a cast (fire-and-forget) and a stream on one actor.
 * Run: npx tsx examples/multiple-methods.ts
 */
import { Effect, Ref, Schema, Stream } from "effect"
import { Actor } from "troupe"
import { check, run } from "./support/check.ts"

class DivideByZero extends Schema.TaggedError<DivideByZero>()("DivideByZero", { dividend: Schema.Number }) {}

const Calculator = Actor.make("Calculator", {
  add: { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number },
  multiply: { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number },
  divide: { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number, error: DivideByZero },
  history: { success: Schema.Array(Schema.String) },
  countdown: { payload: { from: Schema.Number }, stream: Schema.Number },
  reset: { cast: true }
})

const CalculatorLive = Calculator.toLayer(
  Effect.gen(function* () {
    const history = yield* Ref.make<ReadonlyArray<string>>([])
    const log = (line: string, result: number) =>
      Ref.update(history, (h) => [...h, `${line} = ${result}`]).pipe(Effect.as(result))
    return Calculator.of({
      add: ({ a, b }) => log(`${a} + ${b}`, a + b),
      multiply: ({ a, b }) => log(`${a} * ${b}`, a * b),
      divide: ({ a, b }) => (b === 0 ? Effect.fail(new DivideByZero({ dividend: a })) : log(`${a} / ${b}`, a / b)),
      history: () => Ref.get(history),
      countdown: ({ from }) => Stream.range(0, from).pipe(Stream.map((i) => from - i)),
      reset: () => Ref.set(history, [])
    })
  })
)

const program = Effect.gen(function* () {
  const calc = yield* Actor.spawn(Calculator, { id: "calc" })
  yield* check("10 + 20", yield* calc.add({ a: 10, b: 20 }), 30)
  yield* check("5 * 6", yield* calc.multiply({ a: 5, b: 6 }), 30)
  const divided = yield* calc
    .divide({ a: 1, b: 0 })
    .pipe(Effect.catchTag("DivideByZero", (e) => Effect.succeed(`cannot divide ${e.dividend} by zero`)))
  yield* check("1 / 0 fails with the declared error", divided, "cannot divide 1 by zero")
  yield* check("history", yield* calc.history(), ["10 + 20 = 30", "5 * 6 = 30"])
  yield* check("countdown streams", yield* calc.countdown({ from: 3 }).pipe(Stream.runCollect), [3, 2, 1, 0])
  yield* calc.reset()
  yield* check("reset (a cast) emptied the history", yield* calc.history(), [])
})

run(program.pipe(Effect.provide(CalculatorLive)))
