/**
 * Runs the benchmarks: first `npm run build`, then every `bench/*.bench.ts` file in a process of its own
 * (a fresh isolate, with `--expose-gc`), one file at a time so that they do not compete for cores.
 *
 * The files run without the "@troupe/source" condition, so `troupe` and `troupe/node` resolve to the
 * freshly built dist/, as they do for users. That matters for the wire benchmarks: Troupe's worker and
 * child entry points are always the compiled JS in dist/, so a parent running src/ would talk to nodes
 * running dist/, two copies of the library in one measurement. Each file's header prints the commit
 * and whether src/ had uncommitted changes (dist/ was built from that working tree).
 *
 *   npm run bench                    every file unpinned, then pinned to one CPU (`taskset -c 0`) if available
 *   npm run bench -- --pin           pinned only              npm run bench -- --unpinned   unpinned only
 *   npm run bench -- local spawn     only files whose name contains "local" or "spawn"
 *   npm run bench -- --repeat 3      run each file 3 times (separate processes), to see run-to-run noise
 *   npm run bench -- --json out.jsonl   also append every result as a JSON line to out.jsonl
 *   npm run bench -- --tsx           load the files with `--import tsx` instead of Node's own type stripping
 *
 * Files run under Node's built-in type stripping by default (the sources are erasable TypeScript), which
 * executes the code as written, as `dist/` would. tsx compiles with esbuild's keepNames, which wraps
 * named closures in `__name(fn, "name")`: every such closure gets an own `name` property, which costs time
 * and, for closures kept per actor (a handler declared as `incr: () => ...`), about 256 bytes each.
 *
 * Each file prints its own tables and PASS/FAIL lines; this runner repeats the PASS/FAIL lines at the end.
 */
import { spawn, spawnSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const deadlineMs = 10 * 60_000

const args = process.argv.slice(2)
let pinOnly = false
let unpinnedOnly = false
let useTsx = false
let repeat = 1
let jsonOut: string | undefined
const filters: Array<string> = []
for (let i = 0; i < args.length; i++) {
  const a = args[i]!
  if (a === "--pin") pinOnly = true
  else if (a === "--unpinned") unpinnedOnly = true
  else if (a === "--tsx") useTsx = true
  else if (a === "--repeat") repeat = Math.max(1, Number(args[++i] ?? 1) || 1)
  else if (a === "--json") jsonOut = resolve(args[++i] ?? "bench-results.jsonl")
  else if (a.startsWith("--")) {
    console.error(`unknown option ${a}`)
    process.exit(2)
  } else filters.push(a)
}

const hasTaskset = spawnSync("taskset", ["-c", "0", "true"], { stdio: "ignore" }).status === 0
if (pinOnly && !hasTaskset) {
  console.error("--pin needs taskset (util-linux), which is not available here")
  process.exit(2)
}
const modes: Array<"unpinned" | "pinned"> = pinOnly
  ? ["pinned"]
  : unpinnedOnly || !hasTaskset
    ? ["unpinned"]
    : ["unpinned", "pinned"]
if (!pinOnly && !unpinnedOnly && !hasTaskset) console.log("taskset not found: running unpinned only")

const files = readdirSync(new URL(".", import.meta.url))
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort()
  .map((f) => `bench/${f}`)
if (files.length === 0) {
  console.error(`no bench/*.bench.ts file matches ${filters.join(", ")}`)
  process.exit(2)
}

interface Outcome {
  readonly file: string
  readonly mode: string
  readonly code: number | string
  readonly ms: number
  readonly bars: ReadonlyArray<string>
  /** CPU time that other processes used while the file ran, in seconds (Linux only). */
  readonly foreignCpuS: number | undefined
}

/**
 * CPU time (clock ticks) spent by the whole machine, and by this runner's reaped descendants (the bench
 * process and, through it, its children): the difference over a file's run is what other processes used
 * meanwhile, the load that makes a run's figures suspect.
 */
const cpuTicks = (): { readonly machine: number; readonly ours: number } | undefined => {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    const machine = cpu[0]! + cpu[1]! + cpu[2]! + cpu[5]! + cpu[6]! + cpu[7]!
    const self = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ")
    // fields 14-17 of /proc/<pid>/stat (utime stime cutime cstime) are 11-14 after the comm field
    const ours = Number(self[11]) + Number(self[12]) + Number(self[13]) + Number(self[14])
    return { machine, ours }
  } catch {
    return undefined
  }
}
const ticksPerSecond = 100

const runOne = (file: string, mode: "unpinned" | "pinned"): Promise<Outcome> =>
  new Promise((done) => {
    const started = Date.now()
    const ticks0 = cpuTicks()
    // no "@troupe/source" condition: troupe resolves to dist/ here and in every worker and child
    const nodeArgs = ["--expose-gc", ...(useTsx ? ["--import", "tsx"] : []), file]
    const [cmd, argv] =
      mode === "pinned" ? ["taskset", ["-c", "0", process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs]
    const child = spawn(cmd, argv, {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, BENCH_PINNED: mode === "pinned" ? "1" : "0", ...(jsonOut ? { BENCH_OUT: jsonOut } : {}) }
    })
    let out = ""
    child.stdout.on("data", (d: Buffer) => {
      process.stdout.write(d)
      out += d.toString()
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), deadlineMs)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      const bars = out.split("\n").filter((l) => l.startsWith("PASS ") || l.startsWith("FAIL "))
      const ticks1 = cpuTicks()
      const foreignCpuS =
        ticks0 === undefined || ticks1 === undefined
          ? undefined
          : Math.max(0, ticks1.machine - ticks0.machine - (ticks1.ours - ticks0.ours)) / ticksPerSecond
      const ms = Date.now() - started
      if (foreignCpuS !== undefined) {
        console.log(
          `other processes used ${foreignCpuS.toFixed(1)} CPU-s while this file ran (${((foreignCpuS * 100_000) / ms).toFixed(0)}% of one CPU)`
        )
      }
      done({ file, mode, code: code ?? signal ?? "?", ms, bars, foreignCpuS })
    })
  })

// dist/ must match the working tree: every file (and every worker and child it starts) runs it
console.log("building dist/ (npm run build) ...")
const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" })
if (build.status !== 0) {
  console.error(`npm run build failed (${build.status ?? build.signal}): not running benchmarks against a stale dist/`)
  process.exit(1)
}

const outcomes: Array<Outcome> = []
for (const mode of modes) {
  console.log(`\n##### ${mode === "pinned" ? "pinned to CPU 0 (taskset -c 0)" : "unpinned"} #####`)
  for (const file of files) for (let r = 0; r < repeat; r++) outcomes.push(await runOne(file, mode))
}

console.log("\n##### summary #####")
for (const o of outcomes) {
  const foreign = o.foreignCpuS === undefined ? "" : `, other processes ${o.foreignCpuS.toFixed(1)} CPU-s`
  console.log(
    `${o.code === 0 ? "ok  " : "FAILED"} ${o.file} [${o.mode}] exit ${o.code}, ${(o.ms / 1000).toFixed(1)} s${foreign}`
  )
  for (const b of o.bars) console.log(`       ${b}`)
}
process.exitCode = outcomes.every((o) => o.code === 0) ? 0 : 1
