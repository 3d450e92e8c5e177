/**
 * Type-level tests: inference of clients and handlers from the Schemas. The `@ts-expect-error` lines
 * are checked by `npm run typecheck`: if one of them compiled, the typecheck would fail.
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema, type Scope, Stream } from "effect"
import { Actor, type ActorError, type ActorRef, type Behaviour, type Protocol } from "troupe"
import { Calculator, DivideByZero } from "./fixtures/calculator.ts"

class Other extends Schema.TaggedError<Other>()("Other", {}) {}
class Clock extends Context.Service<Clock, { readonly now: Effect.Effect<number> }>()("test/Clock") {}

type CalcRef = ActorRef.ActorRef<typeof Calculator>

describe("client types", () => {
  it("methods are inferred from the Schemas", () => {
    expectTypeOf<CalcRef["add"]>().toEqualTypeOf<
      (payload: { readonly a: number; readonly b: number }) => Effect.Effect<number, ActorError.ActorError>
    >()
    expectTypeOf<ReturnType<CalcRef["divide"]>>().toEqualTypeOf<
      Effect.Effect<number, DivideByZero | ActorError.ActorError>
    >()
    expectTypeOf<CalcRef["history"]>().toEqualTypeOf<
      () => Effect.Effect<ReadonlyArray<string>, ActorError.ActorError>
    >()
    expectTypeOf<ReturnType<CalcRef["countdown"]>>().toEqualTypeOf<Stream.Stream<number, ActorError.ActorError>>()
    expectTypeOf<CalcRef["reset"]>().toEqualTypeOf<() => Effect.Effect<void, ActorError.ActorError>>()
    expectTypeOf<CalcRef["id"]>().toEqualTypeOf<string>()
  })

  it("Protocol.Ref is the Schema of the protocol's refs, and only of them", () => {
    expectTypeOf<(typeof Calculator.Ref)["Type"]>().toEqualTypeOf<CalcRef>()
    const Boss = Actor.make("Boss", {
      delegate: { payload: { to: Calculator.Ref, a: Schema.Number }, success: Calculator.Ref }
    })
    type BossRef = ActorRef.ActorRef<typeof Boss>
    expectTypeOf<BossRef["delegate"]>().parameter(0).toEqualTypeOf<{ readonly to: CalcRef; readonly a: number }>()
    expectTypeOf<ReturnType<BossRef["delegate"]>>().toEqualTypeOf<Effect.Effect<CalcRef, ActorError.ActorError>>()
    const wrongRef = (boss: BossRef, other: BossRef) =>
      // @ts-expect-error a Boss ref where a Calculator ref is declared
      boss.delegate({ to: other, a: 1 })
    void wrongRef
  })

  it("a Schema payload is passed as its Type", () => {
    class Person extends Schema.Class<Person>("Person")({ name: Schema.String }) {}
    const Greeter = Actor.make("Greeter", { greet: { payload: Person, success: Schema.String } })
    expectTypeOf<ActorRef.ActorRef<typeof Greeter>["greet"]>().parameter(0).toEqualTypeOf<Person>()
  })

  it("the protocol is the service key of its ref", () => {
    const program = Effect.gen(function* () {
      const calc = yield* Calculator
      return yield* calc.add({ a: 1, b: 2 })
    })
    expectTypeOf(program).toEqualTypeOf<
      Effect.Effect<number, ActorError.ActorError, Protocol.RefService<"Calculator">>
    >()
    const layer = Calculator.layer({ id: "calc" })
    expectTypeOf(layer).toEqualTypeOf<
      Layer.Layer<Protocol.RefService<"Calculator">, ActorError.ActorError, Behaviour.Behaviour<typeof Calculator>>
    >()
    // @ts-expect-error a service Layer's actor cannot passivate: its one ref would point at nothing
    Calculator.layer({ id: "calc", idleTimeout: "1 minute" })
  })

  it("a child actor is a spawn that needs a Scope; idleTimeout is a spawn option, but not a pool's", () => {
    const child = Actor.spawnScoped(Calculator, { id: "calc", idleTimeout: "1 minute" })
    expectTypeOf(child).toEqualTypeOf<
      Effect.Effect<CalcRef, ActorError.ActorError, Behaviour.Behaviour<typeof Calculator> | Scope.Scope>
    >()
    // @ts-expect-error a pool's member that passivated would be lost to the pool
    Actor.spawnPool(Calculator, { id: "calcs", size: 2, idleTimeout: "1 minute" })
  })

  it("an in-process spawn needs the behaviour in context", () => {
    const spawned = Actor.spawn(Calculator, { id: "calc" })
    expectTypeOf(spawned).toEqualTypeOf<
      Effect.Effect<CalcRef, ActorError.ActorError, Behaviour.Behaviour<typeof Calculator>>
    >()
  })

  it("a pool is one ref of the protocol, and needs a Scope besides what a spawn needs", () => {
    const pooled = Actor.spawnPool(Calculator, { id: "calcs", size: 2 })
    expectTypeOf(pooled).toEqualTypeOf<
      Effect.Effect<CalcRef, ActorError.ActorError, Behaviour.Behaviour<typeof Calculator> | Scope.Scope>
    >()
    // @ts-expect-error a pool needs its size
    Actor.spawnPool(Calculator, { id: "calcs" })
  })

  it("a wrong payload does not compile", () => {
    const check = (calc: CalcRef) => {
      // @ts-expect-error b is missing
      calc.add({ a: 1 })
      // @ts-expect-error a is not a number
      calc.add({ a: "1", b: 2 })
      // @ts-expect-error history takes no payload
      calc.history({ x: 1 })
    }
    expectTypeOf(check).toBeFunction()
  })
})

describe("handler types", () => {
  it("handlers get payload types from the protocol", () => {
    Calculator.of({
      add: (payload) => {
        expectTypeOf(payload).toEqualTypeOf<{ readonly a: number; readonly b: number }>()
        return Effect.succeed(payload.a + payload.b)
      },
      divide: ({ a, b }) => (b === 0 ? Effect.fail(new DivideByZero({ dividend: a })) : Effect.succeed(a / b)),
      history: () => Effect.succeed([]),
      countdown: ({ from }) => Stream.make(from),
      record: () => Effect.void,
      reset: () => Effect.void,
      crash: () => Effect.succeed(0)
    })
  })

  it("a missing handler does not compile", () => {
    // @ts-expect-error countdown, record, reset and crash are missing
    Calculator.of({
      add: ({ a, b }) => Effect.succeed(a + b),
      divide: () => Effect.succeed(1),
      history: () => Effect.succeed([])
    })
  })

  it("an undeclared error does not compile", () => {
    Calculator.of({
      // @ts-expect-error add declares no error
      add: () => Effect.fail(new Other()),
      // @ts-expect-error divide declares DivideByZero, not Other
      divide: () => Effect.fail(new Other()),
      history: () => Effect.succeed([]),
      countdown: () => Stream.make(1),
      record: () => Effect.void,
      reset: () => Effect.void,
      crash: () => Effect.succeed(0)
    })
  })

  it("a wrong success type does not compile", () => {
    Calculator.of({
      // @ts-expect-error add succeeds with a number
      add: () => Effect.succeed("three"),
      divide: () => Effect.succeed(1),
      history: () => Effect.succeed([]),
      // @ts-expect-error countdown streams numbers
      countdown: () => Stream.make("x"),
      record: () => Effect.void,
      reset: () => Effect.void,
      crash: () => Effect.succeed(0)
    })
  })

  it("services used by handlers become requirements of the behaviour Layer", () => {
    const layer = Calculator.toLayer(
      Effect.gen(function* () {
        return Calculator.of({
          add: ({ a, b }) => Clock.use((c) => Effect.map(c.now, (now) => a + b + 0 * now)),
          divide: () => Effect.succeed(1),
          history: () => Effect.succeed([]),
          countdown: () => Stream.make(1),
          record: () => Effect.void,
          reset: () => Effect.void,
          crash: () => Effect.succeed(0)
        })
      })
    )
    expectTypeOf(layer).toEqualTypeOf<Layer.Layer<Behaviour.Behaviour<typeof Calculator>, never, Clock>>()
  })

  it("a plain class instance is a behaviour", () => {
    const Counter = Actor.make("Counter", {
      incr: { payload: { by: Schema.Number }, success: Schema.Number },
      get: { success: Schema.Number },
      ticks: { stream: Schema.Number }
    })
    class CounterImpl {
      private n = 0
      incr({ by }: { by: number }) {
        return (this.n += by)
      }
      async get() {
        return this.n
      }
      *ticks() {
        yield this.n
      }
    }
    const layer = Counter.toLayer(() => new CounterImpl())
    expectTypeOf(layer).toEqualTypeOf<Layer.Layer<Behaviour.Behaviour<typeof Counter>, never, never>>()
    class WrongImpl {
      incr() {
        return "not a number"
      }
      get() {
        return 0
      }
      *ticks() {
        yield 1
      }
    }
    // @ts-expect-error incr must return a number
    Counter.toLayer(() => new WrongImpl())
  })
})
