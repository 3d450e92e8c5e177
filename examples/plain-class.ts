/**
 * A plain class as an actor (the Python seed's "any class can become an actor"): its methods return
 * values or Promises, the protocol is its contract, and a thrown exception arrives as a typed Defect.
 * Run: npx tsx examples/plain-class.ts
 */
import { Effect, Schema } from "effect"
import { Actor } from "troupe"
import { check, run } from "./support/check.ts"

const Processor = Actor.make("DataProcessor", {
  process: { payload: { values: Schema.Array(Schema.Number) }, success: Schema.Number },
  stats: { success: Schema.Struct({ count: Schema.Number, sum: Schema.Number, mean: Schema.Number }) },
  explode: {}
})

class DataProcessor {
  private values: Array<number> = []
  process({ values }: { values: ReadonlyArray<number> }) {
    this.values.push(...values)
    return values.length
  }
  async stats() {
    const sum = this.values.reduce((a, b) => a + b, 0)
    return { count: this.values.length, sum, mean: this.values.length ? sum / this.values.length : 0 }
  }
  explode(): void {
    throw new Error("a bug in the class")
  }
}

const program = Effect.gen(function* () {
  const processor = yield* Actor.spawn(Processor, { id: "processor" })
  yield* check("five values processed", yield* processor.process({ values: [1, 2, 3, 4, 5] }), 5)
  yield* check("stats", yield* processor.stats(), { count: 5, sum: 15, mean: 3 })
  const defect = yield* processor.explode().pipe(Effect.flip)
  yield* check("a thrown exception is a Defect", [defect.reason._tag, defect.message], ["Defect", "a bug in the class"])
})

run(program.pipe(Effect.provide(Processor.toLayer(() => new DataProcessor()))))
