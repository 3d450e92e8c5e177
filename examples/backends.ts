/**
 * One calculator, three backends, identical calls: in-process, in a worker thread, in a child process.
 * The only difference is the `backend` option (or, with service Layers, the Layer).
 * Run: npx tsx examples/backends.ts
 */
import { Effect, Layer, Stream } from "effect"
import { Actor, ActorRef } from "troupe"
import { Subprocess, Workers } from "troupe/node"
import { Calculator, CalculatorLive } from "./hosts/calculator.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/calculator.ts", import.meta.url)

/** The same code for every backend. */
const exercise = (label: string, calc: ActorRef.ActorRef<typeof Calculator>) =>
  Effect.gen(function* () {
    console.log(`${label}: ${yield* calc.whereAmI()} (${ActorRef.location(calc)})`)
    yield* check(`${label}: 10 + 20`, yield* calc.add({ a: 10, b: 20 }), 30)
    const divided = yield* calc
      .divide({ a: 1, b: 0 })
      .pipe(Effect.catchTag("DivideByZero", (e) => Effect.succeed(`DivideByZero(${e.dividend})`)))
    yield* check(`${label}: 1 / 0 is a typed error`, divided, "DivideByZero(1)")
    yield* check(`${label}: a stream`, yield* calc.countdown({ from: 3 }).pipe(Stream.runCollect), [3, 2, 1, 0])
    yield* check(`${label}: state`, yield* calc.history(), ["10 + 20"])
  })

const program = Effect.gen(function* () {
  const local = yield* Actor.spawn(Calculator, { id: "calc" })
  const inWorker = yield* Actor.spawn(Calculator, { id: "calc", backend: Workers })
  const inChild = yield* Actor.spawn(Calculator, { id: "calc", backend: Subprocess })
  yield* exercise("in-process", local)
  yield* exercise("worker thread", inWorker)
  yield* exercise("child process", inChild)
})

run(program.pipe(Effect.provide(Layer.mergeAll(CalculatorLive, Workers.layer({ host }), Subprocess.layer({ host })))))
