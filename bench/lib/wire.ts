/**
 * The measurement plan shared by the wire benchmarks (worker.bench.ts, subprocess.bench.ts): given
 * systems that each reach a peer thread or process, time
 *
 *   1. pipelined calls (64 in flight), the systems interleaved, the scheduler placing the threads;
 *   2. sequential calls (1 in flight, every call timed) under each placement of caller and peer:
 *      - "scheduler": no affinity set, the kernel places (and moves) the threads;
 *      - "same CPU": the caller's thread and every peer's thread on CPU 0;
 *      - "different CPUs": the caller on CPU 0, every peer on CPU 1.
 *      In a pinned run (`taskset -c 0`) only the first applies: everything is on CPU 0 already;
 *   3. calls to an idle peer: each after a call to the same peer and `idlePauseMs` of sleep.
 *
 * and print the tables, plus a summary of p50 latencies with Troupe's ratio to each peer.
 */
import { canPlace, withPlacement } from "./affinity.ts"
import type { CallDriver } from "./drivers.ts"
import { inFlight } from "./drivers.ts"
import {
  formatRatio,
  formatUs,
  measureAfterIdle,
  measureInterleaved,
  pick,
  printRows,
  printTable,
  section,
  warmUpAll,
  type IdleLatency,
  type Result
} from "./harness.ts"

export interface Placement {
  readonly key: "scheduler" | "same" | "cross"
  readonly label: string
  readonly results: ReadonlyArray<Result>
}

export interface WireResults {
  readonly pipelined: ReadonlyArray<Result>
  readonly sequential: ReadonlyArray<Placement>
  readonly idle: ReadonlyArray<IdleLatency>
}

export interface WirePlan {
  /** The row the ratios compare with ("Troupe ÷ this"). */
  readonly troupe: string
  /** Thread ids (worker threads) or pids (child processes' main threads) of every system's peer. */
  readonly peers: ReadonlyArray<number>
  readonly pipelinedRounds: number
  readonly sequentialRounds: number
  readonly idleSamples: number
  readonly idlePauseMs: number
}

/**
 * Casts: one caller sends n fire-and-forget messages, then reads the peer's running total with one call,
 * which the peer answers after them (order per sender), and checks it. Only systems that can send one
 * way take part: Troupe's casts and the raw transport's messages without a reply.
 */
export const measureCasts = async (
  systems: ReadonlyArray<readonly [string, (n: number) => Promise<number>]>,
  troupe: string
): Promise<Array<Result>> => {
  // each system's expected total, which every block adds to (sum of i + 1 for i < n)
  const expected = systems.map(() => 0)
  const workloads = systems.map(
    ([name, run], k) =>
      [
        name,
        async (n: number) => {
          expected[k]! += (n * (n + 1)) / 2
          const total = await run(n)
          if (total !== expected[k]) throw new Error(`${name}: total ${total}, expected ${expected[k]}`)
        }
      ] as const
  )
  await warmUpAll(
    workloads.map(([, w]) => w),
    inFlight * 40
  )
  section("casts (fire-and-forget)")
  const results = await measureInterleaved(workloads, { blockMs: 100, rounds: 11, startOps: 1024 })
  printTable("casts from one caller, then one call answered after them; messages/s, median of 11 blocks", results, {
    ratios: [{ baseline: troupe, invert: true, label: "Troupe ÷ this" }]
  })
  const peer = systems.find(([name]) => name !== troupe)![0]
  const ratio = pick(results, troupe).perSec / pick(results, peer).perSec
  console.log(`info: casts, Troupe ÷ ${peer} = ${formatRatio(ratio)} (not a bar)`)
  return results
}

export const measureWire = async (
  systems: ReadonlyArray<readonly [string, CallDriver]>,
  plan: WirePlan
): Promise<WireResults> => {
  const ratios = [{ baseline: plan.troupe, invert: true, label: "Troupe ÷ this" }]

  // every system and workload runs before any is measured (see warmUpAll)
  await warmUpAll(
    systems.flatMap(([, d]) => [d.pipelined, d.sequential]),
    inFlight * 40
  )

  section(`pipelined calls (${inFlight} in flight)`)
  const pipelined = await measureInterleaved(
    systems.map(([name, d]) => [name, d.pipelined] as const),
    { blockMs: 100, rounds: plan.pipelinedRounds, multipleOf: inFlight, startOps: inFlight * 4 }
  )
  printTable(
    `pipelined calls (${inFlight} in flight), interleaved, median of ${plan.pipelinedRounds} blocks`,
    pipelined,
    {
      ratios
    }
  )

  const sequentialSystems = systems.map(([name, d]) => [name, d.sequential] as const)
  const sequentialOptions = { blockMs: 20, rounds: plan.sequentialRounds, latency: true }
  const pinned = process.env["BENCH_PINNED"] === "1"
  const placements: Array<Omit<Placement, "results"> & { readonly run: () => Promise<Array<Result>> }> = [
    {
      key: "scheduler",
      label: pinned ? "all threads on CPU 0 (pinned run)" : "placed by the scheduler",
      run: () => measureInterleaved(sequentialSystems, sequentialOptions)
    }
  ]
  if (canPlace()) {
    placements.push(
      {
        key: "same",
        label: "caller and peer on the same CPU (0)",
        run: () => withPlacement("0", plan.peers, "0", () => measureInterleaved(sequentialSystems, sequentialOptions))
      },
      {
        key: "cross",
        label: "caller on CPU 0, peer on CPU 1",
        run: () => withPlacement("0", plan.peers, "1", () => measureInterleaved(sequentialSystems, sequentialOptions))
      }
    )
  }
  const sequential: Array<Placement> = []
  for (const p of placements) {
    section(`sequential calls (1 in flight), ${p.label}`)
    const results = await p.run()
    printTable(`sequential calls (1 in flight), ${p.label}; p50/p99 over every call`, results, { ratios })
    sequential.push({ key: p.key, label: p.label, results })
  }

  section(`calls to an idle peer (${plan.idlePauseMs} ms)`)
  const idle = await measureAfterIdle(sequentialSystems, { samples: plan.idleSamples, pauseMs: plan.idlePauseMs })
  const idleTroupe = idle.find((r) => r.name === plan.troupe)!
  printRows(
    `calls to an idle peer: a call, ${plan.idlePauseMs} ms of sleep, then the timed call; ${plan.idleSamples} samples each, ${pinned ? "all threads on CPU 0" : "placed by the scheduler"}`,
    ["", "p50 µs", "p99 µs", "Troupe p50 ÷ this p50"],
    idle.map((r) => [r.name, formatUs(r.p50Us), formatUs(r.p99Us), formatRatio(idleTroupe.p50Us / r.p50Us)])
  )

  // one line per system: p50 of every condition, and Troupe's p50 divided by this system's
  const columns = [
    ...sequential.map((p) => ({ head: p.key, p50: (name: string) => pick(p.results, name).p50Us! })),
    { head: "idle", p50: (name: string) => idle.find((r) => r.name === name)!.p50Us }
  ]
  printRows(
    "summary: sequential p50 in µs, and (in brackets) Troupe's p50 ÷ this p50",
    ["", ...columns.map((c) => c.head)],
    systems.map(([name]) => [
      name,
      ...columns.map((c) => `${formatUs(c.p50(name))} (${formatRatio(c.p50(plan.troupe) / c.p50(name))})`)
    ])
  )
  return { pipelined, sequential, idle }
}
