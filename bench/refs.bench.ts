/**
 * Refs inside messages: what a call through a ref that travelled costs, `{ a, b } → a + b` with 64
 * calls in flight and one at a time, measured interleaved in one run. No bar: the figures show what
 * a relay through the hub costs against a direct link.
 *
 *   - main → worker: the main program calls an Adder on worker A through its spawn ref (a direct
 *     link: the worker bench's Troupe row).
 *   - worker → main: a Driver on worker B calls an Adder in the main process through a ref it got in
 *     its payload (a decoded ref to a neighbour).
 *   - worker → worker: the Driver on worker B calls the Adder on worker A through a ref it got in its
 *     payload: the requests travel B → main → A in VIA frames, and main relays the replies.
 *   - raw, worker → worker through main: the same route with plain `postMessage` and no Troupe: B posts
 *     `{ id, a, b }` to main, main posts it on to A, A answers `{ id, r }` to main, main posts it back
 *     to B; the driver in B matches replies by id.
 *
 * For the driven rows, main asks the Driver (or the raw driver) to make n calls and waits for the sum;
 * that one extra round trip per block is noise next to n calls.
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { Worker } from "node:worker_threads"
import { Actor, ActorRef, ActorSystem } from "troupe"
import { Workers } from "troupe/node"
import { effectCalls, expectedSum, inFlight, type CallDriver } from "./lib/drivers.ts"
import { expectEqual, header, measureInterleaved, printTable, section, warmUpAll } from "./lib/harness.ts"
import { Adder, AdderLive, Driver } from "./hosts/relay.ts"

header("bench/refs.bench.ts", "Refs inside messages: calls through a relayed ref vs a direct link; {a, b} → a + b")

const host = new URL("./hosts/relay.ts", import.meta.url)
const rawDriverUrl = new URL("./hosts/raw-relay.ts", import.meta.url)
const runtime = ManagedRuntime.make(
  Layer.mergeAll(AdderLive, Workers.layer({ host, size: 2 })).pipe(Layer.provideMerge(ActorSystem.layer()))
)
const run = <A, E>(effect: Effect.Effect<A, E, any>): Promise<A> => runtime.runPromise(effect as Effect.Effect<A, E>)

const adderA = await run(Actor.spawn(Adder, { id: "adder-a", backend: Workers }))
let driverB = await run(Actor.spawn(Driver, { id: "driver-0", backend: Workers }))
for (let i = 1; ActorRef.location(driverB) === ActorRef.location(adderA); i++) {
  driverB = await run(Actor.spawn(Driver, { id: `driver-${i}`, backend: Workers }))
}
const local = await run(Actor.spawn(Adder, { id: "adder-main" }))

/** Drives n calls made by the Driver on worker B to `target`. */
const driven = (target: ActorRef.ActorRef<typeof Adder>): CallDriver => ({
  pipelined: (n) =>
    run(driverB.pipelined({ target, n })).then((s) =>
      expectEqual("pipelined sum", s, inFlight * expectedSum(n / inFlight))
    ),
  sequential: (n) =>
    run(driverB.sequential({ target, n })).then((s) => expectEqual("sequential sum", s, expectedSum(n)))
})

// the raw route: two plain workers, A answers, B drives; main forwards both ways
const rawA = new Worker(rawDriverUrl, { workerData: { role: "adder" } })
const rawB = new Worker(rawDriverUrl, { workerData: { role: "driver" } })
rawB.on("message", (m: { id: number }) => {
  if ("a" in m) rawA.postMessage(m)
})
rawA.on("message", (m: { id: number }) => rawB.postMessage(m))
const rawDone = new Map<number, (sum: number) => void>()
let runs = 0
rawB.on("message", (m: { done?: number; sum?: number }) => {
  if (m.done !== undefined) rawDone.get(m.done)?.(m.sum!)
})
const rawDrive = (n: number, inFlightCalls: number): Promise<number> =>
  new Promise((resolve) => {
    const id = ++runs
    rawDone.set(id, (sum) => {
      rawDone.delete(id)
      resolve(sum)
    })
    rawB.postMessage({ run: id, n, inFlight: inFlightCalls })
  })
const raw: CallDriver = {
  pipelined: (n) =>
    rawDrive(n, inFlight).then((s) => expectEqual("raw pipelined sum", s, inFlight * expectedSum(n / inFlight))),
  sequential: (n) => rawDrive(n, 1).then((s) => expectEqual("raw sequential sum", s, expectedSum(n)))
}
expectEqual("raw relay", await rawDrive(64, inFlight), inFlight)

const systems: ReadonlyArray<readonly [string, CallDriver]> = [
  ["main → worker (direct)", effectCalls((a, b) => adderA.add({ a, b }))],
  ["worker → main (ref in a payload)", driven(local)],
  ["worker → worker via main (relayed ref)", driven(adderA)],
  ["raw postMessage, worker → worker via main", raw]
]
await warmUpAll(
  systems.flatMap(([, d]) => [d.pipelined, d.sequential]),
  inFlight * 40
)
const ratios = [{ baseline: "main → worker (direct)", label: "× direct" }]

section(`pipelined calls (${inFlight} in flight)`)
printTable(
  `pipelined calls (${inFlight} in flight), interleaved, median of 7 blocks`,
  await measureInterleaved(
    systems.map(([name, d]) => [name, d.pipelined] as const),
    { blockMs: 100, multipleOf: inFlight, startOps: inFlight * 4 }
  ),
  { ratios: [...ratios, { baseline: "raw postMessage, worker → worker via main", label: "× raw relay" }] }
)

section("sequential calls (one in flight)")
printTable(
  "sequential calls, interleaved, median of 7 blocks",
  await measureInterleaved(
    systems.map(([name, d]) => [name, d.sequential] as const),
    { blockMs: 50 }
  ),
  { ratios: [...ratios, { baseline: "raw postMessage, worker → worker via main", label: "× raw relay" }] }
)

await rawA.terminate()
await rawB.terminate()
await runtime.dispose()
