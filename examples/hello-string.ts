/**
 * Hello world with a string payload: declare a protocol, implement it, spawn it, call it.
 * Run: npx tsx examples/hello-string.ts
 */
import { Effect, Ref, Schema } from "effect"
import { Actor } from "troupe"
import { check, run } from "./support/check.ts"

const Hello = Actor.make("Hello", {
  sayHello: { payload: Schema.String, success: Schema.String },
  count: { success: Schema.Number }
})

const HelloLive = Hello.toLayer(
  Effect.gen(function* () {
    const count = yield* Ref.make(0)
    return Hello.of({
      sayHello: (name) => Ref.updateAndGet(count, (n) => n + 1).pipe(Effect.map((n) => `Hello, ${name}! (#${n})`)),
      count: () => Ref.get(count)
    })
  })
)

const program = Effect.gen(function* () {
  const hello = yield* Actor.spawn(Hello, { id: "hello" })
  const first = yield* hello.sayHello("World")
  const second = yield* hello.sayHello("Effect")
  console.log(first)
  console.log(second)
  yield* check("two greetings counted", yield* hello.count(), 2)
})

run(program.pipe(Effect.provide(HelloLive)))
