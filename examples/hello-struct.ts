/**
 * Hello world with a struct payload: the payload is a Schema class, so the handler receives a real
 * `Greeting` instance (with its getter) and the Schema validates it.
 * Run: npx tsx examples/hello-struct.ts
 */
import { Effect, Schema } from "effect"
import { Actor } from "troupe"
import { check, run } from "./support/check.ts"

class Greeting extends Schema.Class<Greeting>("Greeting")({
  name: Schema.String,
  times: Schema.Int,
  sentAt: Schema.Date
}) {
  get text() {
    return `Hello, ${this.name}!`.repeat(this.times)
  }
}

const Greeter = Actor.make("Greeter", {
  greet: { payload: Greeting, success: Schema.String }
})

const GreeterLive = Greeter.toLayer(
  Effect.succeed(
    Greeter.of({ greet: (greeting) => Effect.succeed(`${greeting.text} (sent ${greeting.sentAt.getUTCFullYear()})`) })
  )
)

const program = Effect.gen(function* () {
  const greeter = yield* Actor.spawn(Greeter, { id: "greeter" })
  const reply = yield* greeter.greet(new Greeting({ name: "Ada", times: 2, sentAt: new Date(Date.UTC(2026, 0, 1)) }))
  console.log(reply)
  yield* check("the struct arrived whole", reply, "Hello, Ada!Hello, Ada! (sent 2026)")
})

run(program.pipe(Effect.provide(GreeterLive)))
