/**
 * Getting started, step 2: spawn the Greeter in this process and call it.
 * Run: npx tsx examples/getting-started/1-in-process.ts
 */
import { Effect } from "effect"
import { Actor } from "troupe"
import { Greeter, GreeterLive } from "./greeter.ts"

const program = Effect.gen(function* () {
  const greeter = yield* Actor.spawn(Greeter, { id: "greeter" })
  console.log(yield* greeter.greet({ name: "Ada" }))
  console.log(yield* greeter.greet({ name: "Grace" }))
  console.log(`main program: pid ${process.pid}`)
})

Effect.runPromise(program.pipe(Effect.provide(GreeterLive)))
