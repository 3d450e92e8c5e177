/**
 * The benchmark harness: time a workload (warm-up, calibration, then several measured runs; the median
 * counts), compute operations per second and per-call latency percentiles, and print a table whose
 * ratio columns compare each row with a named baseline measured in the same process run. Every
 * `bench/*.bench.ts` file uses it and prints its own tables; `bench/run.ts` runs each file in a fresh
 * process. Nothing here knows about actors: a workload is `(n, recorder?) => Promise<void>`.
 */
import { execFileSync } from "node:child_process"
import { appendFileSync } from "node:fs"
import * as os from "node:os"
import { performance } from "node:perf_hooks"

/** Collects per-call times (milliseconds) of a sequential run. */
export class Recorder {
  private samples: Float64Array
  count = 0
  constructor(capacity: number) {
    this.samples = new Float64Array(capacity)
  }
  /** Records one call that took `ms` milliseconds (typically `performance.now() - t0`). */
  add(ms: number): void {
    if (this.count === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2)
      grown.set(this.samples)
      this.samples = grown
    }
    this.samples[this.count++] = ms
  }
  /** The samples recorded so far, sorted ascending. */
  sorted(): Float64Array {
    return this.samples.slice(0, this.count).sort()
  }
}

/**
 * A workload performs `n` operations and resolves when all are done. When a recorder is passed it
 * must time every operation separately (it is only passed for rows that report latency).
 */
export type Workload = (n: number, recorder?: Recorder) => Promise<void>

export interface MeasureOptions {
  /** Measured runs after warm-up; the median is reported. Default 5 (BENCH_RUNS overrides). */
  readonly runs?: number
  /** Aim for each measured run to last about this long. Default 200 ms (BENCH_TARGET_MS overrides). */
  readonly targetMs?: number
  /** The operation count is rounded up to a multiple of this (e.g. 64 for 64 fibers). Default 1. */
  readonly multipleOf?: number
  /** First warm-up size; warm-up doubles it until a run takes 50 ms. Default 1024. */
  readonly startOps?: number
  /** Upper bound on operations per run. Default 5,000,000. */
  readonly maxOps?: number
  /** Also run `latencyRuns` extra runs with a Recorder and report p50/p99 of per-call times. */
  readonly latency?: boolean
  /** Extra timed runs for latency (not counted in throughput). Default 2. */
  readonly latencyRuns?: number
}

export interface Result {
  readonly name: string
  /** Operations per measured run. */
  readonly ops: number
  /** Wall time of each measured run, in ms. */
  readonly runsMs: ReadonlyArray<number>
  readonly medianMs: number
  /** Operations per second at the median run. */
  readonly perSec: number
  /** Slowest and fastest run as operations per second. */
  readonly minPerSec: number
  readonly maxPerSec: number
  /** Per-call latency percentiles in µs (sequential rows only). */
  readonly p50Us?: number | undefined
  readonly p99Us?: number | undefined
}

const envNumber = (name: string): number | undefined => {
  const v = process.env[name]
  if (v === undefined || v === "") return undefined
  const n = Number(v)
  return Number.isFinite(n) && n > 0 ? n : undefined
}

/** Runs a full GC when the process was started with --expose-gc (bench/run.ts does that). */
export const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc
  if (g !== undefined) {
    g()
    g()
  }
}

export const hasGc = (): boolean => typeof (globalThis as { gc?: unknown }).gc === "function"

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** The p-th percentile (0..100) of an ascending array, nearest-rank. */
export const percentile = (sorted: ArrayLike<number>, p: number): number => {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

const roundUp = (n: number, multiple: number) => Math.max(multiple, Math.ceil(n / multiple) * multiple)

const timeOnce = async (run: Workload, n: number, recorder?: Recorder): Promise<number> => {
  const t0 = performance.now()
  await run(n, recorder)
  return performance.now() - t0
}

/**
 * Times a workload. Warm-up doubles the operation count from `startOps` until one run takes at least
 * 50 ms, then picks the count that should take `targetMs` and runs it once more (re-aiming if that run
 * is off by more than 2×); then `runs` measured runs, each after a full GC. With `latency`, extra runs
 * record per-call times.
 */
export const measure = async (name: string, run: Workload, options: MeasureOptions = {}): Promise<Result> => {
  const runs = envNumber("BENCH_RUNS") ?? options.runs ?? 5
  const targetMs = envNumber("BENCH_TARGET_MS") ?? options.targetMs ?? 200
  const multipleOf = options.multipleOf ?? 1
  const maxOps = options.maxOps ?? 5_000_000
  let n = roundUp(options.startOps ?? 1024, multipleOf)
  let ms = await timeOnce(run, n)
  while (ms < 50 && n < maxOps) {
    n = roundUp(Math.min(maxOps, n * 2), multipleOf)
    ms = await timeOnce(run, n)
  }
  // calibrate: aim at targetMs; re-aim (at most 3 times) while a run at the chosen size is far off,
  // e.g. because the first estimate included JIT compilation or a GC pause
  for (let attempt = 0; attempt < 3; attempt++) {
    n = roundUp(Math.min(maxOps, (n * targetMs) / Math.max(ms, 1e-3)), multipleOf)
    gc()
    ms = await timeOnce(run, n)
    if ((ms >= targetMs / 2 && ms <= targetMs * 2) || n >= maxOps) break
  }
  const runsMs: Array<number> = []
  for (let i = 0; i < runs; i++) {
    gc()
    runsMs.push(await timeOnce(run, n))
  }
  const medianMs = median(runsMs)
  let p50Us: number | undefined
  let p99Us: number | undefined
  if (options.latency === true) {
    const recorder = new Recorder(n * (options.latencyRuns ?? 2))
    for (let i = 0; i < (options.latencyRuns ?? 2); i++) {
      gc()
      await timeOnce(run, n, recorder)
    }
    const sorted = recorder.sorted()
    p50Us = percentile(sorted, 50) * 1000
    p99Us = percentile(sorted, 99) * 1000
  }
  const result: Result = {
    name,
    ops: n,
    runsMs,
    medianMs,
    perSec: (n / medianMs) * 1000,
    minPerSec: (n / Math.max(...runsMs)) * 1000,
    maxPerSec: (n / Math.min(...runsMs)) * 1000,
    p50Us,
    p99Us
  }
  record(result)
  return result
}

export interface InterleavedOptions {
  /** Rounds; in each, every system runs one timed block. Default 7 (BENCH_ROUNDS overrides). */
  readonly rounds?: number
  /** Aim for each block to last about this long, in ms. Default 100. */
  readonly blockMs?: number
  /** The operation count is rounded up to a multiple of this (e.g. 64 for 64 callers). Default 1. */
  readonly multipleOf?: number
  /** First calibration size. Default 64. */
  readonly startOps?: number
  /** Upper bound on operations per block. Default 5,000,000. */
  readonly maxOps?: number
  /** Time every operation (the workload gets a Recorder) and report p50/p99. Default false. */
  readonly latency?: boolean
  /**
   * A full GC before every block. Default false: right after a full GC, Effect code (the fiber runtime)
   * runs 30-40% slower for some tens of ms, so a GC before every short block penalizes the Effect-based
   * systems against the Promise-based ones by more than it steadies the heap (docs/benchmarks.md).
   */
  readonly gcBefore?: boolean
}

/**
 * Times several systems under the same conditions by interleaving them: after calibrating each to a
 * block of about `blockMs`, every round runs one block of each system, in an order rotated by one each
 * round, so that every system samples the same stretch of machine state (on the 2-vCPU VM of
 * docs/benchmarks.md, a round trip between threads costs three times more while the scheduler keeps
 * them on different vCPUs, and it moves them every second or so). The rate is the median block's; with
 * `latency`, p50/p99 are over every timed call of every block.
 */
export const measureInterleaved = async (
  systems: ReadonlyArray<readonly [string, Workload]>,
  options: InterleavedOptions = {}
): Promise<Array<Result>> => {
  const rounds = envNumber("BENCH_ROUNDS") ?? options.rounds ?? 7
  const blockMs = options.blockMs ?? 100
  const multipleOf = options.multipleOf ?? 1
  const maxOps = options.maxOps ?? 5_000_000
  const sizes: Array<number> = []
  for (const [, run] of systems) {
    let n = roundUp(options.startOps ?? 64, multipleOf)
    let ms = await timeOnce(run, n)
    while (ms < blockMs / 4 && n < maxOps) {
      n = roundUp(Math.min(maxOps, n * 2), multipleOf)
      ms = await timeOnce(run, n)
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      n = roundUp(Math.min(maxOps, (n * blockMs) / Math.max(ms, 1e-3)), multipleOf)
      ms = await timeOnce(run, n)
      if ((ms >= blockMs / 2 && ms <= blockMs * 2) || n >= maxOps) break
    }
    sizes.push(n)
  }
  const blocks: Array<Array<number>> = systems.map(() => [])
  const recorders = systems.map((_, i) => (options.latency === true ? new Recorder(sizes[i]! * rounds) : undefined))
  // one untimed round after a full GC: right after one, Effect code runs 30-40% slower for some tens
  // of ms (docs/benchmarks.md), which would fall on whichever system comes first
  gc()
  for (let i = 0; i < systems.length; i++) await timeOnce(systems[i]![1], sizes[i]!)
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < systems.length; k++) {
      const i = (k + r) % systems.length
      if (options.gcBefore === true) gc()
      blocks[i]!.push(await timeOnce(systems[i]![1], sizes[i]!, recorders[i]))
    }
  }
  return systems.map(([name], i) => {
    const runsMs = blocks[i]!
    const n = sizes[i]!
    const medianMs = median(runsMs)
    const sorted = recorders[i]?.sorted()
    const result: Result = {
      name,
      ops: n,
      runsMs,
      medianMs,
      perSec: (n / medianMs) * 1000,
      minPerSec: (n / Math.max(...runsMs)) * 1000,
      maxPerSec: (n / Math.min(...runsMs)) * 1000,
      p50Us: sorted === undefined ? undefined : percentile(sorted, 50) * 1000,
      p99Us: sorted === undefined ? undefined : percentile(sorted, 99) * 1000
    }
    record(result)
    return result
  })
}

/** Per-call latency of single calls made to an idle peer. */
export interface IdleLatency {
  readonly name: string
  readonly pauseMs: number
  readonly samples: number
  readonly p50Us: number
  readonly p99Us: number
}

/**
 * Latency of a call to an idle peer. Each sample is: one untimed call, `pauseMs` of sleep in which
 * caller and peer have nothing to do, then one timed call (`run(1, recorder)`), so the peer has been
 * idle for exactly the pause, with its code warm from the call just before. Systems are interleaved as
 * in `measureInterleaved` (one sample of each per round, order rotated).
 */
export const measureAfterIdle = async (
  systems: ReadonlyArray<readonly [string, Workload]>,
  options: { readonly samples?: number; readonly pauseMs?: number } = {}
): Promise<Array<IdleLatency>> => {
  const samples = options.samples ?? 150
  const pauseMs = options.pauseMs ?? 5
  const recorders = systems.map(() => new Recorder(samples))
  gc()
  for (let r = 0; r < samples; r++) {
    for (let k = 0; k < systems.length; k++) {
      const i = (k + r) % systems.length
      await systems[i]![1](1)
      await new Promise((resolve) => setTimeout(resolve, pauseMs))
      await systems[i]![1](1, recorders[i])
    }
  }
  return systems.map(([name], i) => {
    const sorted = recorders[i]!.sorted()
    const result: IdleLatency = {
      name,
      pauseMs,
      samples,
      p50Us: percentile(sorted, 50) * 1000,
      p99Us: percentile(sorted, 99) * 1000
    }
    recordExtra({ idle: result })
    return result
  })
}

/**
 * Runs every workload a few times at a small size before anything is measured. Rows share code (the
 * Effect runtime, Promise machinery), and V8 specializes shared code for whatever ran first; warming
 * every row first makes that type feedback the same for all rows, whatever their order in the table.
 */
export const warmUpAll = async (workloads: ReadonlyArray<Workload>, n: number, rounds = 3): Promise<void> => {
  for (let r = 0; r < rounds; r++) for (const w of workloads) await w(n)
}

// ------------------------------------------------------------------ output

let currentFile = "?"
let currentSection = ""
/** Tells the records of one process from another's in a shared $BENCH_OUT file. */
const runId = `${new Date().toISOString()}#${process.pid}`

/** Appends a record, tagged with the process run, file and section, as a JSON line to $BENCH_OUT when set. */
export const recordExtra = (data: object): void => {
  const out = process.env["BENCH_OUT"]
  if (out === undefined || out === "") return
  const line = {
    run: runId,
    file: currentFile,
    section: currentSection,
    pinned: process.env["BENCH_PINNED"] === "1",
    ...data
  }
  appendFileSync(out, JSON.stringify(line) + "\n")
}

/** Records a measured result (bench/run.ts sets $BENCH_OUT with --json). */
const record = (result: Result): void => recordExtra(result)

/** Prints the benchmark's title and the machine it runs on. */
export const header = (file: string, title: string): void => {
  currentFile = file
  const cpus = os.cpus()
  const pinned = process.env["BENCH_PINNED"] === "1"
  let troupe = "?"
  try {
    troupe = import.meta.resolve("troupe").replace(/^file:\/\//, "")
  } catch {
    // not resolvable from here: leave "?"
  }
  console.log(`\n=== ${title} (${file}) ===`)
  console.log(
    `node ${process.version} · ${cpus.length} cores (${cpus[0]?.model.trim() ?? "?"}) · ` +
      `usable now: ${os.availableParallelism()} · ${pinned ? "pinned: taskset -c 0" : "unpinned"} · ` +
      `gc ${hasGc() ? "exposed" : "NOT exposed (run with --expose-gc)"}`
  )
  console.log(`troupe resolved to ${troupe} · ${sourceState()}`)
}

/** The commit and whether src/ has uncommitted changes: the figures belong to that state of the code. */
const sourceState = (): string => {
  try {
    const cwd = new URL("../..", import.meta.url)
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd, encoding: "utf8" }).trim()
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd, encoding: "utf8" }).trim()
    return `commit ${head}${dirty === "" ? "" : ` + uncommitted changes in src/ (${dirty.split("\n").length} paths)`}`
  } catch {
    return "commit unknown"
  }
}

/** Starts a section (one table); its name tags the JSON records. */
export const section = (name: string): void => {
  currentSection = name
}

export interface RatioColumn {
  /** Name of the row to compare with (must be in the same table). */
  readonly baseline: string
  /** Column header; default "× <baseline>". */
  readonly label?: string
  /** false (default): row ÷ baseline. true: baseline ÷ row (e.g. "how many times faster Troupe is"). */
  readonly invert?: boolean
}

export interface TableOptions {
  readonly unit?: string
  readonly ratios?: ReadonlyArray<RatioColumn>
}

/** Formats a count per second: 1234567 → "1.23M". */
export const formatRate = (x: number): string =>
  !Number.isFinite(x)
    ? "–"
    : x >= 1e6
      ? `${(x / 1e6).toFixed(2)}M`
      : x >= 1e3
        ? `${(x / 1e3).toFixed(x >= 1e5 ? 0 : 1)}k`
        : x.toFixed(0)

export const formatRatio = (x: number): string =>
  !Number.isFinite(x) ? "–" : `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×`

export const formatUs = (x: number | undefined): string =>
  x === undefined || !Number.isFinite(x) ? "" : x >= 100 ? x.toFixed(0) : x.toFixed(2)

/** Prints rows as an aligned table. */
export const printRows = (title: string, head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    "| " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ") + " |"
  console.log(`\n${title}`)
  console.log(line(head))
  console.log("|" + widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|")
  for (const r of rows) console.log(line(r))
}

/**
 * Prints results as a table: rate (median run), the range over measured runs, latency percentiles when
 * present, and one column per ratio against a named row of the same table.
 */
export const printTable = (title: string, results: ReadonlyArray<Result>, options: TableOptions = {}): void => {
  const unit = options.unit ?? "calls/s"
  const ratios = options.ratios ?? []
  const withLatency = results.some((r) => r.p50Us !== undefined)
  const head = [
    "",
    unit,
    "range (min–max run)",
    "ops/run",
    ...(withLatency ? ["p50 µs", "p99 µs"] : []),
    ...ratios.map((r) => r.label ?? `× ${r.baseline}`)
  ]
  const rows = results.map((r) => {
    const cells = [
      r.name,
      formatRate(r.perSec),
      `${formatRate(r.minPerSec)}–${formatRate(r.maxPerSec)}`,
      String(r.ops),
      ...(withLatency ? [formatUs(r.p50Us), formatUs(r.p99Us)] : [])
    ]
    for (const ratio of ratios) {
      const base = results.find((x) => x.name === ratio.baseline)
      cells.push(
        base === undefined ? "?" : formatRatio(ratio.invert === true ? base.perSec / r.perSec : r.perSec / base.perSec)
      )
    }
    return cells
  })
  printRows(title, head, rows)
}

const bars: Array<{ label: string; ok: boolean }> = []

/** Prints "PASS <label>" or "FAIL <label>" with the evidence; bench/run.ts collects these lines. */
export const bar = (label: string, ok: boolean, detail: string): boolean => {
  bars.push({ label, ok })
  console.log(`${ok ? "PASS" : "FAIL"} ${label}: ${detail}`)
  recordExtra({ bar: label, ok, detail })
  return ok
}

/** Bars checked so far in this process. */
export const barsChecked = (): ReadonlyArray<{ label: string; ok: boolean }> => bars

/** Finds a result by name; throws if absent (a typo in a bench file should not print a silent "?"). */
export const pick = (results: ReadonlyArray<Result>, name: string): Result => {
  const r = results.find((x) => x.name === name)
  if (r === undefined) throw new Error(`no result named ${name}`)
  return r
}

/** Throws when a workload computed the wrong answer: a benchmark that does the wrong work measures nothing. */
export const expectEqual = (label: string, actual: unknown, expected: unknown): void => {
  if (actual !== expected) throw new Error(`${label}: expected ${String(expected)}, got ${String(actual)}`)
}
