/**
 * A host module: the protocol and its behaviour. Loaded in-process by examples/backends.ts, and inside
 * each worker thread and child process, where its exported Layers are the kinds that may be spawned.
 */
import { Effect, Ref, Schema, Stream } from "effect"
import { Actor, ActorContext } from "troupe"

export class DivideByZero extends Schema.TaggedError<DivideByZero>()("DivideByZero", { dividend: Schema.Number }) {}

export const Calculator = Actor.make("Calculator", {
  add: { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number },
  divide: { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number, error: DivideByZero },
  history: { success: Schema.Array(Schema.String) },
  countdown: { payload: { from: Schema.Number }, stream: Schema.Number },
  whereAmI: { success: Schema.String }
})

export const CalculatorLive = Calculator.toLayer(
  Effect.gen(function* () {
    const { id } = yield* ActorContext
    const history = yield* Ref.make<ReadonlyArray<string>>([])
    return Calculator.of({
      add: ({ a, b }) => Ref.update(history, (h) => [...h, `${a} + ${b}`]).pipe(Effect.as(a + b)),
      divide: ({ a, b }) => (b === 0 ? Effect.fail(new DivideByZero({ dividend: a })) : Effect.succeed(a / b)),
      history: () => Ref.get(history),
      countdown: ({ from }) => Stream.range(0, from).pipe(Stream.map((i) => from - i)),
      whereAmI: () => Effect.sync(() => `${id} in process ${process.pid}`)
    })
  })
)
