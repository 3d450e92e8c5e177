/**
 * What the inspector costs: calls `{ a, b } → a + b` to actors that are metered (their node has been
 * inspected: each message is counted and its latency put in a histogram) against the same actors
 * unmetered, in-process and on a worker thread, interleaved in one run; and how long one sample takes
 * (`Inspector.reports()`: every node builds its report, the worker's travels back as one frame) with
 * 10,000 idle actors in-process and 10,000 on the worker.
 *
 * Two isolated systems, each with its own Adder in-process and its own one-worker pool: system "plain"
 * is never inspected; system "metered" is inspected once before the measurements.
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { performance } from "node:perf_hooks"
import { Actor, ActorSystem, Inspector } from "troupe"
import { Workers } from "troupe/node"
import { effectCalls, inFlight, type CallDriver } from "./lib/drivers.ts"
import { header, measureInterleaved, median, printRows, printTable, section, warmUpAll } from "./lib/harness.ts"
import { Adder, AdderLive } from "./hosts/adder.ts"

header("bench/inspector.bench.ts", "Inspector: metered vs unmetered calls, and the cost of one sample")

const host = new URL("./hosts/adder.ts", import.meta.url)
const systemLayer = () =>
  Layer.mergeAll(AdderLive, Workers.layer({ host, size: 1 })).pipe(Layer.provideMerge(ActorSystem.layer()))
const plain = ManagedRuntime.make(systemLayer())
const metered = ManagedRuntime.make(systemLayer())

const refs = async (runtime: typeof plain) => ({
  local: await runtime.runPromise(Actor.spawn(Adder, { id: "adder" })),
  worker: await runtime.runPromise(Actor.spawn(Adder, { id: "adder-w", backend: Workers }))
})
const p = await refs(plain)
const m = await refs(metered)
// the first look turns metering on, in-process and on the worker
const first = await metered.runPromise(Inspector.reports())
if (first.filter((r) => !("error" in r)).length !== 2)
  throw new Error(`expected 2 node reports: ${JSON.stringify(first)}`)

const systems: ReadonlyArray<readonly [string, CallDriver]> = [
  ["in-process, unmetered", effectCalls((a, b) => p.local.add({ a, b }))],
  ["in-process, metered", effectCalls((a, b) => m.local.add({ a, b }))],
  ["worker, unmetered", effectCalls((a, b) => p.worker.add({ a, b }))],
  ["worker, metered", effectCalls((a, b) => m.worker.add({ a, b }))]
]
await warmUpAll(
  systems.flatMap(([, d]) => [d.pipelined, d.sequential]),
  inFlight * 100
)
const ratios = [
  { baseline: "in-process, unmetered", label: "× in-process unmetered" },
  { baseline: "worker, unmetered", label: "× worker unmetered" }
]

section(`pipelined calls (${inFlight} in flight)`)
printTable(
  `pipelined calls (${inFlight} in flight), interleaved, median of 7 blocks`,
  await measureInterleaved(
    systems.map(([name, d]) => [name, d.pipelined] as const),
    { blockMs: 100, multipleOf: inFlight, startOps: inFlight * 4 }
  ),
  { ratios }
)

section("sequential calls (one in flight)")
printTable(
  "sequential calls, interleaved, median of 7 blocks",
  await measureInterleaved(
    systems.map(([name, d]) => [name, d.sequential] as const),
    { blockMs: 50 }
  ),
  { ratios }
)

const counted = await metered.runPromise(Inspector.reports())
const handled = counted.flatMap((r) => ("error" in r ? [] : r.actors)).reduce((n, a) => n + a.handled, 0)
if (handled === 0) throw new Error("the metered actors counted nothing")

section("one sample (Inspector.reports()) with 10,000 idle actors in-process and 10,000 on the worker")
await metered.runPromise(
  Effect.forEach(
    Array.from({ length: 10_000 }, (_, i) => i),
    (i) =>
      Effect.andThen(
        Actor.spawn(Adder, { id: `idle-${i}` }),
        Actor.spawn(Adder, { id: `idle-w-${i}`, backend: Workers })
      ),
    { concurrency: 64, discard: true }
  )
)
const times: Array<number> = []
let actors = 0
for (let i = 0; i < 11; i++) {
  const t0 = performance.now()
  const reports = await metered.runPromise(Inspector.reports())
  times.push(performance.now() - t0)
  actors = reports.reduce((n, r) => n + ("error" in r ? 0 : r.actors.length), 0)
}
printRows(
  "sample time",
  ["actors reported", "median ms", "min ms", "max ms"],
  [[String(actors), median(times).toFixed(1), Math.min(...times).toFixed(1), Math.max(...times).toFixed(1)]]
)

await plain.dispose()
await metered.dispose()
