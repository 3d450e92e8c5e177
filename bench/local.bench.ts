/**
 * The in-process backend ("Troupe local") against peers, on `{ a, b } → a + b`:
 *
 *   - pipelined calls: 64 fibers (or async loops) each doing n/64 sequential calls, so 64 are in flight;
 *   - sequential calls: one caller, one call in flight; also p50/p99 of per-call latency;
 *   - casts: n fire-and-forget messages from one caller, then one call, whose reply proves (mailboxes
 *     are FIFO) that every cast was handled.
 *
 * Peers, all in this process and this run:
 *   - "Queue+Deferred mailbox": a naive Effect mailbox, a `Queue.bounded(1024)` of [payload, Deferred]
 *     served by one fiber (Queue.take, then Deferred.succeed); a caller does Deferred.make, Queue.offer,
 *     Deferred.await; a cast is a Queue.offer with no Deferred.
 *   - "plain function (Effect.sync)": `Effect.sync(() => a + b)`, no actor at all: the ceiling.
 *   - nact 7: a stateful actor (its state counts messages) asked with `query` (nact's ask: a temporary
 *     reference as sender, the actor `dispatch`es the sum to it); casts are `dispatch`. Driven natively
 *     from async functions, not from Effect.
 *   - XState 5: `createActor` of a machine whose `add` event handler counts the event in context
 *     (`assign`) and computes a + b. Request/reply: the event carries a `reply` callback that an action
 *     calls with the sum, and the caller awaits a Promise resolved by it (XState has no built-in ask for
 *     code outside the actor system; this is the cheapest correct pattern, cheaper than a snapshot
 *     subscription). Casts are `actor.send` without a callback. Driven natively from async functions.
 *
 * Troupe is measured with the idiomatic handler `add: ({ a, b }) => Effect.succeed(a + b)` and again
 * with a stateful handler that updates a Ref (`Ref.modify`), which is the fair comparison with the
 * nact and XState actors, whose handlers also update state. "traced" sends the same calls from inside a
 * span (an external parent span provided to each call), so each handler runs in a span of its own made
 * by Effect's default tracer: what tracing costs per message, next to the untraced rows.
 */
import { Deferred, Effect, Fiber, Layer, ManagedRuntime, Queue, Ref, Schema, Tracer } from "effect"
import { dispatch, query, spawn as nactSpawn, start as nactStart, stop as nactStop, type Ref as NactRef } from "nact"
import { Actor, ActorSystem } from "troupe"
import { assign, createActor, setup } from "xstate"
import { effectCalls, inFlight, promiseCalls, type EffectCall, type PromiseCall } from "./lib/drivers.ts"
import {
  bar,
  expectEqual,
  formatRate,
  formatRatio,
  header,
  measure,
  pick,
  printTable,
  section,
  warmUpAll,
  type Result
} from "./lib/harness.ts"

// ------------------------------------------------------------------ generic drivers

type EffectCast = (a: number, b: number) => Effect.Effect<void, unknown>
type SyncCast = (a: number, b: number) => void

// the call workloads are the shared drivers'; casts are this file's third workload
const effectDriver = (call: EffectCall, cast: EffectCast) => ({
  ...effectCalls(call),
  casts: (n: number) =>
    Effect.runPromise(
      Effect.gen(function* () {
        for (let i = 0; i < n; i++) yield* cast(i, 1)
        expectEqual("final call", yield* call(n, 1), n + 1)
      })
    )
})

const promiseDriver = (call: PromiseCall, cast: SyncCast) => ({
  ...promiseCalls(call),
  casts: async (n: number) => {
    for (let i = 0; i < n; i++) cast(i, 1)
    expectEqual("final call", await call(n, 1), n + 1)
  }
})

type Driver = ReturnType<typeof promiseDriver>

// ------------------------------------------------------------------ Troupe

const Adder = Actor.make("Adder", {
  add: { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number },
  addCast: { payload: { a: Schema.Number, b: Schema.Number }, cast: true }
})
const AdderLive = Adder.toLayer(
  Effect.succeed(
    Adder.of({
      add: ({ a, b }) => Effect.succeed(a + b),
      addCast: ({ a, b }) => Effect.succeed(a + b)
    })
  )
)

const CountingAdder = Actor.make("CountingAdder", {
  add: { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number },
  addCast: { payload: { a: Schema.Number, b: Schema.Number }, cast: true },
  handled: { success: Schema.Number }
})
const CountingAdderLive = CountingAdder.toLayer(
  Effect.gen(function* () {
    const handled = yield* Ref.make(0)
    return CountingAdder.of({
      add: ({ a, b }) => Ref.modify(handled, (k) => [a + b, k + 1]),
      addCast: () => Ref.update(handled, (k) => k + 1),
      handled: () => Ref.get(handled)
    })
  })
)

// ------------------------------------------------------------------ naive Queue + Deferred mailbox

type Letter = readonly [{ readonly a: number; readonly b: number }, Deferred.Deferred<number> | undefined]

const naiveMailbox = Effect.gen(function* () {
  const mailbox = yield* Queue.bounded<Letter>(1024)
  const serve = Queue.take(mailbox).pipe(
    Effect.flatMap(([p, reply]) => (reply === undefined ? Effect.void : Deferred.succeed(reply, p.a + p.b))),
    Effect.forever
  )
  const server = yield* Effect.forkDetach(serve)
  const call: EffectCall = (a, b) =>
    Effect.flatMap(Deferred.make<number>(), (reply) =>
      Effect.flatMap(Queue.offer(mailbox, [{ a, b }, reply]), () => Deferred.await(reply))
    )
  const cast: EffectCast = (a, b) => Effect.asVoid(Queue.offer(mailbox, [{ a, b }, undefined]))
  return { call, cast, server }
})

// ------------------------------------------------------------------ nact

interface NactAdd {
  readonly a: number
  readonly b: number
  readonly sender?: NactRef<number>
}

// ------------------------------------------------------------------ XState

interface XAdd {
  readonly type: "add"
  readonly a: number
  readonly b: number
  readonly reply?: (sum: number) => void
}
const adderMachine = setup({ types: { context: {} as { handled: number }, events: {} as XAdd } }).createMachine({
  context: { handled: 0 },
  on: {
    add: {
      actions: [
        assign({ handled: ({ context }) => context.handled + 1 }),
        ({ event }) => event.reply?.(event.a + event.b)
      ]
    }
  }
})

// ------------------------------------------------------------------ main

header("bench/local.bench.ts", "In-process backend: Troupe local vs peers, {a, b} → a + b")

const troupe = "Troupe local"
const troupeRef = "Troupe local (Ref state)"
const troupeTraced = "Troupe local (traced)"
const mailboxName = "Queue+Deferred mailbox"
const plainName = "plain function (Effect.sync)"
const nactName = "nact 7.6 (query/dispatch)"
const xstateName = "XState 5.33 (send + reply callback)"

const runtime = ManagedRuntime.make(Layer.mergeAll(AdderLive, CountingAdderLive, ActorSystem.layer()))
const adder = await runtime.runPromise(Actor.spawn(Adder, { id: "adder" }))
const counting = await runtime.runPromise(Actor.spawn(CountingAdder, { id: "counting-adder" }))
const naive = await Effect.runPromise(naiveMailbox)
const parent = Tracer.externalSpan({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331" })

let sink = 0
const nactSystem = nactStart()
const nactAdder = nactSpawn(
  nactSystem,
  (state: number = 0, msg: NactAdd) => {
    if (msg.sender !== undefined) dispatch(msg.sender, msg.a + msg.b)
    return state + 1
  },
  "adder"
)
const xActor = createActor(adderMachine).start()

const systems: ReadonlyArray<readonly [string, Driver]> = [
  [
    troupe,
    effectDriver(
      (a, b) => adder.add({ a, b }),
      (a, b) => adder.addCast({ a, b })
    )
  ],
  [
    troupeRef,
    effectDriver(
      (a, b) => counting.add({ a, b }),
      (a, b) => counting.addCast({ a, b })
    )
  ],
  [
    troupeTraced,
    effectDriver(
      (a, b) => Effect.provideService(adder.add({ a, b }), Tracer.ParentSpan, parent),
      (a, b) => Effect.provideService(adder.addCast({ a, b }), Tracer.ParentSpan, parent)
    )
  ],
  [mailboxName, effectDriver(naive.call, naive.cast)],
  [
    plainName,
    effectDriver(
      (a, b) => Effect.sync(() => a + b),
      (a, b) =>
        Effect.sync(() => {
          sink += a + b
        })
    )
  ],
  [
    nactName,
    promiseDriver(
      (a, b) => query(nactAdder, (sender: NactRef<number>): NactAdd => ({ a, b, sender }), 60_000),
      (a, b) => dispatch(nactAdder, { a, b })
    )
  ],
  [
    xstateName,
    promiseDriver(
      (a, b) => new Promise<number>((reply) => xActor.send({ type: "add", a, b, reply })),
      (a, b) => xActor.send({ type: "add", a, b })
    )
  ]
]

const ratios = [
  { baseline: troupe, invert: true, label: "Troupe ÷ this" },
  { baseline: troupeRef, invert: true, label: "Troupe (Ref) ÷ this" },
  { baseline: mailboxName, label: "this ÷ mailbox" }
]

const rows = {
  pipelined: `pipelined calls (${inFlight} in flight)`,
  sequential: "sequential calls (1 in flight)",
  casts: "casts (then one call)"
} as const
const tables: Record<keyof typeof rows, Array<Result>> = { pipelined: [], sequential: [], casts: [] }

// every system and row runs before any is measured (see warmUpAll)
await warmUpAll(
  systems.flatMap(([, driver]) => [driver.pipelined, driver.sequential, driver.casts]),
  inFlight * 500
)

for (const kind of ["pipelined", "sequential", "casts"] as const) {
  section(rows[kind])
  for (const [name, driver] of systems) {
    tables[kind].push(
      await measure(name, driver[kind], {
        multipleOf: kind === "pipelined" ? inFlight : 1,
        latency: kind === "sequential"
      })
    )
  }
  printTable(rows[kind], tables[kind], { unit: kind === "casts" ? "casts/s" : "calls/s", ratios })
}

// every cast and call reached the stateful actor: the handled count matches what was sent so far
const handled = await Effect.runPromise(counting.handled())
if (handled <= 0) throw new Error("the Ref-state actor handled nothing")

console.log("")
section("bars")
const pipe = tables.pipelined
const ratioMailbox = pick(pipe, troupe).perSec / pick(pipe, mailboxName).perSec
bar(
  "Troupe pipelined calls ≥ 3× the Queue+Deferred mailbox",
  ratioMailbox >= 3,
  `${formatRate(pick(pipe, troupe).perSec)} vs ${formatRate(pick(pipe, mailboxName).perSec)} calls/s = ${formatRatio(ratioMailbox)}`
)
const ratioMailboxRef = pick(pipe, troupeRef).perSec / pick(pipe, mailboxName).perSec
console.log(
  `info: Troupe (Ref state) pipelined = ${formatRatio(ratioMailboxRef)} the mailbox (not a bar: the bar is for the idiomatic handler)`
)
for (const peer of [nactName, xstateName]) {
  for (const variant of [troupe, troupeRef]) {
    const lines = (["pipelined", "sequential", "casts"] as const).map((kind) => {
      const r = pick(tables[kind], variant).perSec / pick(tables[kind], peer).perSec
      return { kind, r }
    })
    bar(
      `${variant} ahead of ${peer.split(" (")[0]} on every row`,
      lines.every((l) => l.r > 1),
      lines.map((l) => `${l.kind} ${formatRatio(l.r)}`).join(", ")
    )
  }
}

nactStop(nactSystem)
xActor.stop()
await Effect.runPromise(Fiber.interrupt(naive.server))
await runtime.dispose()
if (sink === -1) console.log(sink) // keeps the ceiling's side effect observable
