/**
 * Getting started, step 5: the same Greeter on a remote host over TCP. Start the server first, in a
 * second terminal, with the same secret:
 *   export TROUPE_SECRET=some-long-random-string
 *   npx troupe serve --port 29000 examples/getting-started/greeter.ts
 * Run: TROUPE_SECRET=some-long-random-string npx tsx examples/getting-started/4-remote.ts
 */
import { Effect, Redacted } from "effect"
import { Actor } from "troupe"
import { Remote } from "troupe/node"
import { Greeter } from "./greeter.ts"

const program = Effect.gen(function* () {
  const greeter = yield* Actor.spawn(Greeter, { id: "greeter", backend: Remote })
  console.log(yield* greeter.greet({ name: "Ada" }))
  console.log(yield* greeter.greet({ name: "Grace" }))
  console.log(`main program: pid ${process.pid}`)
})

const server = {
  host: "127.0.0.1",
  port: Number(process.env.TROUPE_PORT ?? 29000),
  secret: Redacted.make(process.env.TROUPE_SECRET ?? "")
}
Effect.runPromise(program.pipe(Effect.provide(Remote.layer(server))))
