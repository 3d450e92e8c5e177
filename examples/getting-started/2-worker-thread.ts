/**
 * Getting started, step 3: the same Greeter in a worker thread. The worker loads greeter.ts (the host
 * module); the calls do not change.
 * Run: npx tsx examples/getting-started/2-worker-thread.ts
 */
import { Effect } from "effect"
import { Actor } from "troupe"
import { Workers } from "troupe/node"
import { Greeter } from "./greeter.ts"

const program = Effect.gen(function* () {
  const greeter = yield* Actor.spawn(Greeter, { id: "greeter", backend: Workers })
  console.log(yield* greeter.greet({ name: "Ada" }))
  console.log(yield* greeter.greet({ name: "Grace" }))
  console.log(`main program: pid ${process.pid}`)
})

const host = new URL("./greeter.ts", import.meta.url)
Effect.runPromise(program.pipe(Effect.provide(Workers.layer({ host }))))
