/**
 * Pools (`Actor.spawnPool`), two questions, answered by rows of one run:
 *   1. What does a pool's ref cost per call? `{ a, b } → a + b` through a direct ref and through pools of
 *      1 and 4 in-process, of 1 and 2 on `Workers.layer({ size: 2 })`; pipelined (64 in flight) and sequential.
 *   2. How well does it spread CPU-bound jobs (SHA-256 stretching) over threads? jobs/s, 8 in flight, for one
 *      Troupe worker, a Troupe pool of 2, a hand-made worker_threads pool, piscina, and the main thread.
 * No bars: ratios to baselines of the same run, and `info:` lines. How it is driven: docs/benchmarks.md, "Pools".
 */
import { Effect, Exit, Layer, ManagedRuntime, Scope } from "effect"
import { readFileSync } from "node:fs"
import { availableParallelism } from "node:os"
import { performance } from "node:perf_hooks"
import { Worker } from "node:worker_threads"
import { fileURLToPath } from "node:url"
import { Piscina } from "piscina"
import { Actor, ActorRef, ActorSystem } from "troupe"
import { Workers } from "troupe/node"
import { canPlace, withPlacement, workerThreadIds } from "./lib/affinity.ts"
import { byId, effectCalls, inFlight, type CallDriver } from "./lib/drivers.ts"
import {
  expectEqual,
  formatRate,
  formatRatio,
  formatUs,
  header,
  measure,
  measureInterleaved,
  pick,
  printRows,
  printTable,
  recordExtra,
  section,
  warmUpAll,
  type Result,
  type Workload
} from "./lib/harness.ts"
import { Adder, AdderLive } from "./hosts/adder.ts"
import { Hasher } from "./hosts/hasher.ts"
import type { Job } from "./hosts/piscina-hasher.ts"
import { checkAgainstNodeCrypto, stretch } from "./hosts/stretch.ts"

const adderHost = new URL("./hosts/adder.ts", import.meta.url)
const hasherHost = new URL("./hosts/hasher.ts", import.meta.url)
const rawHasherUrl = new URL("./hosts/raw-hasher.ts", import.meta.url)
const piscinaHasher = fileURLToPath(new URL("./hosts/piscina-hasher.ts", import.meta.url))

/** Jobs in flight in the CPU-bound half: four per thread of a pool of two, so no thread waits for work. */
const jobsInFlight = 8
/** SHA-256 rounds per job: about 0.33 ms and 1 ms of CPU on the VM of docs/benchmarks.md. */
const jobSizes = [1500, 4500] as const
/** Distinct keys; the expected answer of each is computed once, so that every reply is checked. */
const keys = 16

header("bench/pool.bench.ts", "Pools: the balancer's cost per call, and CPU-bound jobs spread over threads")
const pinned = process.env["BENCH_PINNED"] === "1"

const ratioRow = (name: string, results: ReadonlyArray<Result>, baseline: string) => {
  const r = pick(results, name)
  const b = pick(results, baseline)
  // the time a call costs at the median rate, this row against the baseline: the balancer's share
  const extraNs = 1e9 / r.perSec - 1e9 / b.perSec
  return `${formatRatio(r.perSec / b.perSec)} the rate, ${extraNs >= 0 ? "+" : ""}${extraNs.toFixed(0)} ns a call`
}

// ------------------------------------------------------------------ 1a. in-process

const direct = "direct ref (Actor.spawn)"
const pool1 = "pool of 1"
const pool4 = "pool of 4, least-busy"
const pool4rr = "pool of 4, round-robin"

const localRuntime = ManagedRuntime.make(Layer.mergeAll(AdderLive, ActorSystem.layer()))
const localScope = Effect.runSync(Scope.make())
const inLocalScope = <A, E>(
  effect: Effect.Effect<A, E, Scope.Scope | ManagedRuntime.ManagedRuntime.Services<typeof localRuntime>>
) => localRuntime.runPromise(Scope.provide(localScope)(effect))

const localDirect = await inLocalScope(Actor.spawn(Adder, { id: "direct" }))
const localPool1 = await inLocalScope(Actor.spawnPool(Adder, { id: "pool1", size: 1 }))
const localPool4 = await inLocalScope(Actor.spawnPool(Adder, { id: "pool4", size: 4 }))
const localPool4rr = await inLocalScope(Actor.spawnPool(Adder, { id: "pool4rr", size: 4, routing: "round-robin" }))

const localSystems: ReadonlyArray<readonly [string, CallDriver]> = [
  [direct, effectCalls((a, b) => localDirect.add({ a, b }))],
  [pool1, effectCalls((a, b) => localPool1.add({ a, b }))],
  [pool4, effectCalls((a, b) => localPool4.add({ a, b }))],
  [pool4rr, effectCalls((a, b) => localPool4rr.add({ a, b }))]
]
const localRatios = [{ baseline: direct, label: "this ÷ direct" }]

// every system and row runs before any is measured (see warmUpAll)
await warmUpAll(
  localSystems.flatMap(([, d]) => [d.pipelined, d.sequential]),
  inFlight * 500
)

section(`in-process: pipelined calls (${inFlight} in flight)`)
const localPipelined: Array<Result> = []
for (const [name, d] of localSystems) localPipelined.push(await measure(name, d.pipelined, { multipleOf: inFlight }))
printTable(`in-process: pipelined calls (${inFlight} in flight), median of 5 runs`, localPipelined, {
  ratios: localRatios
})

section("in-process: sequential calls (1 in flight)")
const localSequential: Array<Result> = []
for (const [name, d] of localSystems) localSequential.push(await measure(name, d.sequential, { latency: true }))
printTable("in-process: sequential calls (1 in flight), median of 5 runs; p50/p99 of 2 more", localSequential, {
  ratios: localRatios
})

await Effect.runPromise(Scope.close(localScope, Exit.void))
await localRuntime.dispose()

// ------------------------------------------------------------------ 1b. on workers

const wDirect = "direct ref, worker 0"
const wPool1 = "pool of 1, worker 0"
const wPool2 = "pool of 2, workers 0 and 1"

const threadsBefore = workerThreadIds()
const adderRuntime = ManagedRuntime.make(Workers.layer({ host: adderHost, size: 2 }))
const adderScope = Effect.runSync(Scope.make())
const inAdderScope = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Workers>) =>
  adderRuntime.runPromise(Scope.provide(adderScope)(effect))

// an id ending in "#n" goes to worker n: the direct actor shares worker 0 with the pools' member 0
const workerDirect = await inAdderScope(Actor.spawn(Adder, { id: "direct#0", backend: Workers }))
const workerPool1 = await inAdderScope(Actor.spawnPool(Adder, { id: "pool1", size: 1, backend: Workers }))
const workerPool2 = await inAdderScope(Actor.spawnPool(Adder, { id: "pool2", size: 2, backend: Workers }))
for (const ref of [workerDirect, workerPool1, workerPool2]) {
  expectEqual(`${ref.id} add`, await Effect.runPromise(ref.add({ a: 1, b: 2 })), 3)
}
const adderThreads = [...workerThreadIds()].filter((tid) => !threadsBefore.has(tid))
if (adderThreads.length !== 2)
  throw new Error(`expected the 2 worker threads of the pool, found ${adderThreads.length}`)
console.log(
  `\ninfo: direct ref at ${ActorRef.location(workerDirect)}; pool of 1 at ${ActorRef.location(workerPool1)}; ` +
    `pool of 2 at ${ActorRef.location(workerPool2)}`
)

const workerSystems: ReadonlyArray<readonly [string, CallDriver]> = [
  [wDirect, effectCalls((a, b) => workerDirect.add({ a, b }))],
  [wPool1, effectCalls((a, b) => workerPool1.add({ a, b }))],
  [wPool2, effectCalls((a, b) => workerPool2.add({ a, b }))]
]
const workerRatios = [{ baseline: wDirect, label: "this ÷ direct" }]

await warmUpAll(
  workerSystems.flatMap(([, d]) => [d.pipelined, d.sequential]),
  inFlight * 40
)

section(`workers: pipelined calls (${inFlight} in flight)`)
const pipelinedRounds = 11
const workerPipelined = await measureInterleaved(
  workerSystems.map(([name, d]) => [name, d.pipelined] as const),
  { blockMs: 100, rounds: pipelinedRounds, multipleOf: inFlight, startOps: inFlight * 4 }
)
printTable(
  `workers: pipelined calls (${inFlight} in flight), interleaved, median of ${pipelinedRounds} blocks`,
  workerPipelined,
  { ratios: workerRatios }
)

// sequential round trips to a worker cost 5-60 µs depending on where the threads run (docs/benchmarks.md,
// "Where the threads run"), far more than a balancer could add, so fixed placements are measured too
const sequentialRounds = 30
const sequentialSystems = workerSystems.map(([name, d]) => [name, d.sequential] as const)
const runSequential = () =>
  measureInterleaved(sequentialSystems, { blockMs: 20, rounds: sequentialRounds, latency: true })
const placements: Array<{ readonly label: string; readonly run: () => Promise<Array<Result>> }> = [
  { label: pinned ? "all threads on CPU 0 (pinned run)" : "placed by the scheduler", run: runSequential }
]
if (canPlace()) {
  placements.push(
    {
      label: "caller and both workers on CPU 0",
      run: () => withPlacement("0", adderThreads, "0", runSequential)
    },
    {
      label: "caller on CPU 0, both workers on CPU 1",
      run: () => withPlacement("0", adderThreads, "1", runSequential)
    }
  )
}
const workerSequential: Array<{ readonly label: string; readonly results: ReadonlyArray<Result> }> = []
for (const p of placements) {
  section(`workers: sequential calls (1 in flight), ${p.label}`)
  const results = await p.run()
  printTable(
    `workers: sequential calls (1 in flight), ${p.label}, ${sequentialRounds} interleaved blocks, p50/p99 of all`,
    results,
    { ratios: workerRatios }
  )
  workerSequential.push({ label: p.label, results })
}

await Effect.runPromise(Scope.close(adderScope, Exit.void))
await adderRuntime.dispose()

console.log("")
section("per-call overhead")
console.log(`info: in-process pipelined, ${pool1}: ${ratioRow(pool1, localPipelined, direct)} against the direct ref`)
console.log(`info: in-process pipelined, ${pool4}: ${ratioRow(pool4, localPipelined, direct)}`)
console.log(`info: in-process pipelined, ${pool4rr}: ${ratioRow(pool4rr, localPipelined, direct)}`)
console.log(`info: in-process sequential, ${pool1}: ${ratioRow(pool1, localSequential, direct)}`)
console.log(`info: in-process sequential, ${pool4}: ${ratioRow(pool4, localSequential, direct)}`)
console.log(`info: workers pipelined, ${wPool1}: ${ratioRow(wPool1, workerPipelined, wDirect)}`)
console.log(`info: workers pipelined, ${wPool2}: ${ratioRow(wPool2, workerPipelined, wDirect)}`)
for (const p of workerSequential) {
  const p50 = (name: string) => pick(p.results, name).p50Us!
  console.log(
    `info: workers sequential p50 (${p.label}): direct ${formatUs(p50(wDirect))} µs, ` +
      `pool of 1 ${formatUs(p50(wPool1))} µs, pool of 2 ${formatUs(p50(wPool2))} µs`
  )
}

// ------------------------------------------------------------------ 2. CPU-bound jobs

const mainName = "the job on the main thread (no worker)"
const troupeOne = "Troupe, one actor on one worker"
const troupePool = "Troupe pool of 2, 2 workers"
const rawOne = "raw worker_threads, one worker"
const rawPool = "raw worker_threads pool of 2 (by hand)"
const piscinaOne = "piscina 5, 1 thread"
const piscinaTwo = "piscina 5, 2 threads"

// every thread started from here on inherits the main thread's CPUs: they must be all of them again
console.log(`\ninfo: CPUs the main thread may use for the CPU-bound half: ${availableParallelism()}`)

// Troupe: one Workers pool of two; the lone actor shares worker 0 with the pool's member 0
const hasherRuntime = ManagedRuntime.make(Workers.layer({ host: hasherHost, size: 2 }))
const hasherScope = Effect.runSync(Scope.make())
const inHasherScope = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Workers>) =>
  hasherRuntime.runPromise(Scope.provide(hasherScope)(effect))
const lone = await inHasherScope(Actor.spawn(Hasher, { id: "lone#0", backend: Workers }))
const hashers = await inHasherScope(Actor.spawnPool(Hasher, { id: "hashers", size: 2, backend: Workers }))

// raw: two plain workers, each reached through replies matched by id; one of them also serves alone
const rawWorkers = [new Worker(rawHasherUrl), new Worker(rawHasherUrl)]
const rawLinks = rawWorkers.map((w) => {
  const link = byId((m) => w.postMessage(m))
  w.on("message", link.receive)
  return link
})
let rawCursor = 0
/** Least busy by hand: the fewest jobs pending, scanning from a rotating start so that ties take turns. */
const rawPoolCall = (key: number, rounds: number): Promise<number> => {
  const start = rawCursor
  rawCursor = (start + 1) % rawLinks.length
  let best = rawLinks[start]!
  for (let k = 1; k < rawLinks.length; k++) {
    const link = rawLinks[(start + k) % rawLinks.length]!
    if (link.pending < best.pending) best = link
  }
  return best.call(key, rounds)
}

const piscina2 = new Piscina<Job, number>({ filename: piscinaHasher, minThreads: 2, maxThreads: 2 })
const piscina1 = new Piscina<Job, number>({ filename: piscinaHasher, minThreads: 1, maxThreads: 1 })

type EffectJob = (key: number, rounds: number) => Effect.Effect<number, unknown>
type PromiseJob = (key: number, rounds: number) => Promise<number>

/** Which key caller f sends as its i-th job: the keys cycle, so every answer is checked against a table. */
const keyOf = (f: number, i: number) => (f + i * jobsInFlight) % keys

const effectJobs =
  (call: EffectJob, rounds: number, expected: ReadonlyArray<number>): Workload =>
  (n) =>
    Effect.runPromise(
      Effect.forEach(
        Array.from({ length: jobsInFlight }, (_, f) => f),
        (f) =>
          Effect.gen(function* () {
            for (let i = 0; i < n / jobsInFlight; i++) {
              const key = keyOf(f, i)
              expectEqual("job", yield* call(key, rounds), expected[key])
            }
          }),
        { concurrency: "unbounded", discard: true }
      )
    )

const promiseJobs =
  (call: PromiseJob, rounds: number, expected: ReadonlyArray<number>): Workload =>
  async (n) => {
    await Promise.all(
      Array.from({ length: jobsInFlight }, async (_, f) => {
        for (let i = 0; i < n / jobsInFlight; i++) {
          const key = keyOf(f, i)
          expectEqual("job", await call(key, rounds), expected[key])
        }
      })
    )
  }

const mainThreadJobs =
  (rounds: number, expected: ReadonlyArray<number>): Workload =>
  async (n) => {
    for (let i = 0; i < n; i++) expectEqual("job", stretch(i % keys, rounds), expected[i % keys])
  }

/** CPU time spent during a row's blocks, in the whole process (every thread) and on the main thread. */
interface CpuTally {
  jobs: number
  processUs: number
  mainUs: number
}
const tallied =
  (tally: CpuTally, run: Workload): Workload =>
  async (n, recorder) => {
    const process0 = process.cpuUsage()
    const main0 = process.threadCpuUsage()
    await run(n, recorder)
    const processD = process.cpuUsage(process0)
    const mainD = process.threadCpuUsage(main0)
    tally.jobs += n
    tally.processUs += processD.user + processD.system
    tally.mainUs += mainD.user + mainD.system
  }

/**
 * CPU time used by the whole machine (Linux `/proc/stat`, in s) and by this process: two threads can only
 * be twice as fast as one on two idle CPUs, so each table says how much of them other processes took.
 */
const cpuNow = (): { readonly machineS: number; readonly ourS: number } | undefined => {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number)
    // user nice system irq softirq steal, as bench/run.ts counts them; USER_HZ is 100 on Linux
    const machineS = (cpu[0]! + cpu[1]! + cpu[2]! + cpu[5]! + cpu[6]! + cpu[7]!) / 100
    const ours = process.cpuUsage()
    return { machineS, ourS: (ours.user + ours.system) / 1e6 }
  } catch {
    return undefined
  }
}

checkAgainstNodeCrypto(7, 3)
for (const rounds of jobSizes) {
  const expected = Array.from({ length: keys }, (_, k) => stretch(k, rounds))
  const systems: ReadonlyArray<readonly [string, Workload]> = [
    [mainName, mainThreadJobs(rounds, expected)],
    [troupeOne, effectJobs((key, r) => lone.stretch({ key, rounds: r }), rounds, expected)],
    [troupePool, effectJobs((key, r) => hashers.stretch({ key, rounds: r }), rounds, expected)],
    [rawOne, promiseJobs(rawLinks[0]!.call, rounds, expected)],
    [rawPool, promiseJobs(rawPoolCall, rounds, expected)],
    [piscinaOne, promiseJobs((key, r) => piscina1.run({ key, rounds: r }), rounds, expected)],
    [piscinaTwo, promiseJobs((key, r) => piscina2.run({ key, rounds: r }), rounds, expected)]
  ]
  await warmUpAll(
    systems.map(([, w]) => w),
    jobsInFlight * 4
  )
  const tallies = systems.map((): CpuTally => ({ jobs: 0, processUs: 0, mainUs: 0 }))
  const title = `CPU-bound jobs of ${rounds} SHA-256 rounds, ${jobsInFlight} in flight`
  section(title)
  const cpu0 = cpuNow()
  const started = performance.now()
  const results = await measureInterleaved(
    systems.map(([name, w], i) => [name, tallied(tallies[i]!, w)] as const),
    { blockMs: 200, rounds: 9, multipleOf: jobsInFlight, startOps: jobsInFlight }
  )
  const cpu1 = cpuNow()
  const elapsedS = (performance.now() - started) / 1000
  const jobUs = 1e6 / pick(results, mainName).perSec
  printTable(`${title} (${formatUs(jobUs)} µs a job on the main thread), interleaved, median of 9 blocks`, results, {
    unit: "jobs/s",
    ratios: [
      { baseline: troupeOne, label: "÷ one Troupe worker" },
      { baseline: mainName, label: "÷ main thread" }
    ]
  })
  // the job's own CPU time is what it costs on the main thread, where nothing else happens
  const jobCpuUs = tallies[0]!.processUs / tallies[0]!.jobs
  // the CPU a job costs beyond the job itself is what dispatching it costs: encoding, messages, wake-ups,
  // polling; on the main thread it is the time taken from whatever else the program has to do
  printRows(
    `${title}: CPU time per job over every block (calibration included), µs`,
    ["", "whole process", "main thread", "whole process − the main-thread row"],
    systems.map(([name], i) => {
      const t = tallies[i]!
      return [
        name,
        formatUs(t.processUs / t.jobs),
        formatUs(t.mainUs / t.jobs),
        formatUs(t.processUs / t.jobs - jobCpuUs)
      ]
    })
  )
  recordExtra({
    cpu: rounds,
    tallies: systems.map(([name], i) => ({ name, ...tallies[i]! }))
  })
  const rate = (name: string) => pick(results, name).perSec
  console.log("")
  if (cpu0 !== undefined && cpu1 !== undefined) {
    const otherS = Math.max(0, cpu1.machineS - cpu0.machineS - (cpu1.ourS - cpu0.ourS))
    console.log(
      `info: ${rounds} rounds: other processes used ${otherS.toFixed(1)} CPU-s in the ${elapsedS.toFixed(1)} s ` +
        `of this table (${((otherS / elapsedS) * 100).toFixed(0)}% of one CPU)`
    )
    recordExtra({ cpu: rounds, otherCpuS: otherS, elapsedS })
  }
  console.log(
    `info: ${rounds} rounds, two threads ÷ one (ideal ${pinned ? "1× pinned" : "2×"}): ` +
      `Troupe ${formatRatio(rate(troupePool) / rate(troupeOne))}, ` +
      `raw ${formatRatio(rate(rawPool) / rate(rawOne))}, ` +
      `piscina ${formatRatio(rate(piscinaTwo) / rate(piscinaOne))}`
  )
  console.log(
    `info: ${rounds} rounds, ÷ the main thread's rate (ideal ${pinned ? "1×" : "2×"}): ` +
      `Troupe pool ${formatRatio(rate(troupePool) / rate(mainName))}, ` +
      `raw pool ${formatRatio(rate(rawPool) / rate(mainName))}, ` +
      `piscina 2 threads ${formatRatio(rate(piscinaTwo) / rate(mainName))}`
  )
  console.log(
    `info: ${rounds} rounds, Troupe pool of 2 ÷ raw pool ${formatRatio(rate(troupePool) / rate(rawPool))}, ` +
      `÷ piscina 2 threads ${formatRatio(rate(troupePool) / rate(piscinaTwo))} ` +
      `(${formatRate(rate(troupePool))} vs ${formatRate(rate(rawPool))} vs ${formatRate(rate(piscinaTwo))} jobs/s)`
  )
}

// ------------------------------------------------------------------ teardown

await Effect.runPromise(Scope.close(hasherScope, Exit.void))
await hasherRuntime.dispose()
await Promise.all(rawWorkers.map((w) => w.terminate()))
await piscina1.destroy()
await piscina2.destroy()
