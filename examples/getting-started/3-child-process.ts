/**
 * Getting started, step 4: the same Greeter in a child process.
 * Run: npx tsx examples/getting-started/3-child-process.ts
 */
import { Effect } from "effect"
import { Actor } from "troupe"
import { Subprocess } from "troupe/node"
import { Greeter } from "./greeter.ts"

const program = Effect.gen(function* () {
  const greeter = yield* Actor.spawn(Greeter, { id: "greeter", backend: Subprocess })
  console.log(yield* greeter.greet({ name: "Ada" }))
  console.log(yield* greeter.greet({ name: "Grace" }))
  console.log(`main program: pid ${process.pid}`)
})

const host = new URL("./greeter.ts", import.meta.url)
Effect.runPromise(program.pipe(Effect.provide(Subprocess.layer({ host }))))
