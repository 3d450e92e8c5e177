/**
 * Spawn rate and heap per idle actor: 100k actors of a small stateful protocol (a counter in a Ref),
 * spawned one after another into an isolated `ActorSystem.layer()`, against 100k idle nact actors and
 * 100k idle XState actors. Heap per actor = (heapUsed after spawning − heapUsed before) / 100k, each
 * after a full GC; the caller keeps no refs (Troupe's registry and nact's parent hold the actors;
 * XState has no registry for root actors, so an array holds them, which costs 8 bytes each). After
 * spawning, a random actor is called to check that it answers, then the system is shut down and the
 * heap is measured again (it should fall back to where it started). Troupe's extra rows: the same actors
 * with an idle timeout, and as children of one parent (spawned by its handler with `Actor.spawnScoped`).
 */
import { Effect, Layer, Ref, Schema } from "effect"
import { dispatch, query, spawn as nactSpawn, start as nactStart, stop as nactStop, type Ref as NactRef } from "nact"
import { performance } from "node:perf_hooks"
import { Actor, ActorSystem, Supervision } from "troupe"
import { assign, createActor, setup, type Actor as XActor } from "xstate"
import {
  bar,
  expectEqual,
  formatRate,
  gc,
  hasGc,
  header,
  median,
  printRows,
  recordExtra,
  section
} from "./lib/harness.ts"

const count = Number(process.env["BENCH_SPAWN_COUNT"] ?? 100_000)
const rounds = Number(process.env["BENCH_SPAWN_ROUNDS"] ?? 3)
const warmupCount = 10_000

const heapUsed = () => process.memoryUsage().heapUsed
const randomIndex = () => Math.floor(Math.random() * count)

interface Round {
  readonly spawnMs: number
  readonly bytesPerActor: number
  /** heap after shutdown minus heap before spawning, per actor (≈ 0 when nothing leaks) */
  readonly leftPerActor: number
  readonly stopMs: number
  /** Which actor the check called, and what it answered. */
  readonly checked: string
}

// ------------------------------------------------------------------ Troupe

const Counter = Actor.make("Counter", {
  incr: { success: Schema.Number }
})
const CounterLive = Counter.toLayer(
  Effect.gen(function* () {
    const n = yield* Ref.make(0)
    return Counter.of({ incr: () => Ref.updateAndGet(n, (x) => x + 1) })
  })
)

/**
 * A parent whose one handler spawns `n` children into its own scope (`Actor.spawnScoped`): child actors.
 * Under a stopping parent each child is also watched for escalation; a resuming parent watches nothing.
 */
const Parent = Actor.make("Parent", { spawnChildren: { payload: { n: Schema.Number } } })
const ParentLive = Parent.toLayer(
  Effect.succeed(
    Parent.of({
      spawnChildren: ({ n }) =>
        Effect.gen(function* () {
          for (let i = 0; i < n; i++) yield* Actor.spawnScoped(Counter, { id: `counter-${i}` })
        })
    })
  )
).pipe(Layer.provide(CounterLive))

type Variant =
  | { readonly idleTimeout: "1 hour" } // also in its system's passivation sweep; none passivates here
  | { readonly childrenOf: "resume" | "stop" }

const troupeRound =
  (variant?: Variant) =>
  async (k: number): Promise<Round> => {
    let heap0 = 0
    let heap1 = 0
    let spawnMs = 0
    let t2 = 0
    let checked = ""
    await Effect.runPromise(
      Effect.gen(function* () {
        const parent =
          variant !== undefined && "childrenOf" in variant
            ? yield* Actor.spawn(Parent, {
                id: "parent",
                supervision: variant.childrenOf === "stop" ? Supervision.stop : Supervision.resume
              })
            : undefined
        const idleTimeout = variant !== undefined && "idleTimeout" in variant ? variant.idleTimeout : undefined
        gc()
        heap0 = heapUsed()
        const t0 = performance.now()
        if (parent !== undefined) yield* parent.spawnChildren({ n: k })
        else for (let i = 0; i < k; i++) yield* Actor.spawn(Counter, { id: `counter-${i}`, idleTimeout })
        spawnMs = performance.now() - t0
        gc()
        heap1 = heapUsed()
        const id = `counter-${randomIndex() % k}`
        const ref = yield* Actor.lookup(Counter, id)
        const first = yield* ref.incr()
        const second = yield* ref.incr()
        expectEqual("first incr of a random actor", first, 1)
        expectEqual("second incr", second, 2)
        checked = `lookup("${id}") then incr() twice → ${first}, ${second}`
        const system = yield* ActorSystem.ActorSystem
        expectEqual("actors alive", system.ids().length, parent === undefined ? k : k + 1)
        t2 = performance.now()
      }).pipe(Effect.provide(Layer.mergeAll(CounterLive, ParentLive, ActorSystem.layer())))
    )
    const stopMs = performance.now() - t2
    gc()
    const heap2 = heapUsed()
    return { spawnMs, bytesPerActor: (heap1 - heap0) / k, leftPerActor: (heap2 - heap0) / k, stopMs, checked }
  }

// ------------------------------------------------------------------ nact

interface NactIncr {
  readonly sender?: NactRef<number>
}

const nactRound = async (k: number): Promise<Round> => {
  // the caller keeps the reference of one actor, picked in advance, to call it afterwards
  const target = randomIndex() % k
  let targetRef: NactRef<NactIncr> | undefined
  gc()
  const heap0 = heapUsed()
  const t0 = performance.now()
  const system = nactStart()
  for (let i = 0; i < k; i++) {
    const ref = nactSpawn(
      system,
      (state: number = 0, msg: NactIncr) => {
        if (msg.sender !== undefined) dispatch(msg.sender, state + 1)
        return state + 1
      },
      `counter-${i}`
    )
    if (i === target) targetRef = ref
  }
  const spawnMs = performance.now() - t0
  gc()
  const heap1 = heapUsed()
  const n = await query(targetRef!, (sender: NactRef<number>): NactIncr => ({ sender }), 10_000)
  expectEqual("first incr of a random nact actor", n, 1)
  const checked = `query(counter-${target}) → ${n}`
  const t2 = performance.now()
  nactStop(system)
  const stopMs = performance.now() - t2
  targetRef = undefined
  // nact runs each actor's afterStop in a setImmediate
  await new Promise((r) => setImmediate(r))
  gc()
  const heap2 = heapUsed()
  return { spawnMs, bytesPerActor: (heap1 - heap0) / k, leftPerActor: (heap2 - heap0) / k, stopMs, checked }
}

// ------------------------------------------------------------------ XState

interface XIncr {
  readonly type: "incr"
  readonly reply?: (n: number) => void
}
const counterMachine = setup({ types: { context: {} as { n: number }, events: {} as XIncr } }).createMachine({
  context: { n: 0 },
  on: {
    incr: {
      actions: [assign({ n: ({ context }) => context.n + 1 }), ({ context, event }) => event.reply?.(context.n)]
    }
  }
})

const xstateRound = async (k: number): Promise<Round> => {
  gc()
  const heap0 = heapUsed()
  const t0 = performance.now()
  const actors: Array<XActor<typeof counterMachine>> = new Array(k)
  for (let i = 0; i < k; i++) actors[i] = createActor(counterMachine).start()
  const spawnMs = performance.now() - t0
  gc()
  const heap1 = heapUsed()
  const target = randomIndex() % k
  const actor = actors[target]!
  const n = await new Promise<number>((reply) => actor.send({ type: "incr", reply }))
  expectEqual("first incr of a random XState actor", n, 1)
  const checked = `actors[${target}].send(incr) → ${n}`
  const t2 = performance.now()
  for (const a of actors) a.stop()
  actors.length = 0
  const stopMs = performance.now() - t2
  gc()
  const heap2 = heapUsed()
  return { spawnMs, bytesPerActor: (heap1 - heap0) / k, leftPerActor: (heap2 - heap0) / k, stopMs, checked }
}

// ------------------------------------------------------------------ main

header("bench/spawn.bench.ts", `Spawn rate and heap per idle actor (${count.toLocaleString("en")} actors)`)
if (!hasGc()) console.log("warning: without --expose-gc the heap figures are meaningless")

const systems: ReadonlyArray<readonly [string, (k: number) => Promise<Round>]> = [
  ["Troupe local (Ref counter)", troupeRound()],
  ["Troupe local, idleTimeout 1 h", troupeRound({ idleTimeout: "1 hour" })],
  ["Troupe children, resuming parent", troupeRound({ childrenOf: "resume" })],
  ["Troupe children, stopping parent", troupeRound({ childrenOf: "stop" })],
  ["nact 7.6 (stateful actor)", nactRound],
  ["XState 5.33 (createActor().start())", xstateRound]
]

section("spawn")
const summary: Array<{ name: string; perSec: number; bytes: number; left: number; stopPerSec: number }> = []
for (const [name, round] of systems) {
  await round(warmupCount)
  const results: Array<Round> = []
  for (let r = 0; r < rounds; r++) results.push(await round(count))
  const perSec = median(results.map((r) => (count / r.spawnMs) * 1000))
  const bytes = median(results.map((r) => r.bytesPerActor))
  const left = median(results.map((r) => r.leftPerActor))
  const stopPerSec = median(results.map((r) => (count / r.stopMs) * 1000))
  summary.push({ name, perSec, bytes, left, stopPerSec })
  console.log(`${name}: a random actor of the last ${count.toLocaleString("en")} answers: ${results.at(-1)!.checked}`)
  recordExtra({
    name,
    count,
    spawnPerSec: perSec,
    bytesPerActor: bytes,
    leftPerActor: left,
    stopPerSec,
    rounds: results
  })
}

const troupe = summary[0]!
printRows(
  `spawn ${count.toLocaleString("en")} idle actors (median of ${rounds} rounds after a ${warmupCount.toLocaleString("en")}-actor warm-up)`,
  ["", "spawns/s", "heap/actor", "heap left after stop, /actor", "stops/s", "Troupe spawns/s ÷ this", "heap ÷ Troupe"],
  summary.map((s) => [
    s.name,
    formatRate(s.perSec),
    `${s.bytes.toFixed(0)} B`,
    `${s.left.toFixed(0)} B`,
    formatRate(s.stopPerSec),
    `${(troupe.perSec / s.perSec).toFixed(2)}×`,
    `${(s.bytes / troupe.bytes).toFixed(2)}×`
  ])
)
console.log(
  "(stops/s: Troupe = closing the ActorSystem layer, graceful stop of every actor; nact = stop(system); XState = actor.stop() each)"
)
console.log("")
bar(
  "Troupe heap per idle actor ≤ 1 KB",
  troupe.bytes <= 1024,
  `${troupe.bytes.toFixed(0)} B per actor (${count.toLocaleString("en")} actors)`
)
const passivating = summary[1]!
bar(
  "Troupe heap per idle actor with an idle timeout ≤ 1 KB",
  passivating.bytes <= 1024,
  `${passivating.bytes.toFixed(0)} B per actor (${count.toLocaleString("en")} actors)`
)
