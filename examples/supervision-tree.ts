/**
 * A supervision tree. A Bakery builds two children with `Actor.spawnScoped`: an Oven in a worker thread
 * and a Till in-process. A child's defects go to its own policy first (the Till restarts by itself);
 * a child whose policy gives up (the Oven stops at its first defect) fails its parent, and the Bakery's
 * policy restarts it, with fresh children. Stopping the Bakery stops its children.
 * Run: npx tsx examples/supervision-tree.ts
 */
import { Effect, Layer, Ref, Schedule, Schema } from "effect"
import { Actor, Supervision } from "troupe"
import { Workers } from "troupe/node"
import { Oven } from "./hosts/oven.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/oven.ts", import.meta.url)

const Till = Actor.make("Till", {
  ring: { payload: { amount: Schema.Number }, success: Schema.Number },
  jam: {}
})
const TillLive = Till.toLayer(
  Effect.gen(function* () {
    const total = yield* Ref.make(0)
    return Till.of({
      ring: ({ amount }) => Ref.updateAndGet(total, (t) => t + amount),
      jam: () => Effect.die(new Error("the till jammed"))
    })
  })
)

const Bakery = Actor.make("Bakery", {
  sell: { payload: { loaf: Schema.String, price: Schema.Number }, success: Schema.String },
  generation: { success: Schema.Number },
  jamTill: {},
  overheatOven: {}
})

let generations = 0
const quick = { initial: "10 millis", jitter: false } as const

const BakeryLive = Bakery.toLayer(
  Effect.gen(function* () {
    const generation = ++generations
    // children: they live as long as this incarnation of the Bakery
    const oven = yield* Actor.spawnScoped(Oven, { id: "oven", backend: Workers, supervision: Supervision.stop })
    const till = yield* Actor.spawnScoped(Till, { id: "till", supervision: Supervision.restart({ backoff: quick }) })
    return Bakery.of({
      sell: ({ loaf, price }) =>
        Effect.gen(function* () {
          const bread = yield* oven.bake({ loaf })
          const total = yield* till.ring({ amount: price })
          return `${bread}, sold (till at ${total})`
        }),
      generation: () => Effect.succeed(generation),
      jamTill: () => Effect.ignore(till.jam()),
      overheatOven: () => Effect.ignore(oven.overheat())
    })
  })
).pipe(Layer.provide(TillLive))

/** Asks again (for up to 10 s) until the answer is the one expected: a restart happens in the background. */
const eventually = <A>(ask: Effect.Effect<A, unknown>, expected: A) =>
  ask.pipe(
    Effect.filterOrFail((a) => a === expected),
    Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo({ times: 1000 })))
  )

const program = Effect.gen(function* () {
  const bakery = yield* Actor.spawn(Bakery, {
    id: "bakery",
    supervision: Supervision.restart({ maxRestarts: 3, within: "1 minute", backoff: quick })
  })
  yield* check("the bakery sells a loaf", yield* bakery.sell({ loaf: "rye", price: 4 }), "rye, baked, sold (till at 4)")

  // a child's defect goes to its own policy: the Till restarts (its total starts again), the Bakery does not
  yield* bakery.jamTill()
  const afterJam = yield* eventually(bakery.sell({ loaf: "spelt", price: 5 }), "spelt, baked, sold (till at 5)")
  yield* check("the jammed till restarted by itself", afterJam, "spelt, baked, sold (till at 5)")
  yield* check("the bakery did not restart", yield* bakery.generation(), 1)

  // the Oven gives up at its first defect: that fails the Bakery, whose policy restarts it, oven and all
  yield* bakery.overheatOven()
  yield* check("the oven's end restarted the bakery", yield* eventually(bakery.generation(), 2), 2)
  yield* check(
    "with a fresh oven in the worker",
    yield* bakery.sell({ loaf: "rye", price: 4 }),
    "rye, baked, sold (till at 4)"
  )

  yield* Actor.stop(bakery)
  const oven = yield* Effect.exit(Actor.lookup(Oven, "oven", { backend: Workers }))
  yield* check("stopping the bakery stopped its children", oven._tag, "Failure")
})

// the Bakery's build spawns on Workers: its Layer needs them, and so does the lookup above
run(program.pipe(Effect.provide(BakeryLive.pipe(Layer.provideMerge(Workers.layer({ host, size: 1 }))))))
