/**
 * Runs the benchmarks: every `bench/*.bench.ts` file in a process of its own (a fresh isolate, with
 * `--expose-gc`, `troupe` resolved to src/ through the "@troupe/source" condition), one file at a time
 * so that they do not compete for cores.
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
import { readdirSync } from "node:fs"
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
}

const runOne = (file: string, mode: "unpinned" | "pinned"): Promise<Outcome> =>
  new Promise((done) => {
    const started = Date.now()
    const nodeArgs = ["--expose-gc", "--conditions=@troupe/source", ...(useTsx ? ["--import", "tsx"] : []), file]
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
      done({ file, mode, code: code ?? signal ?? "?", ms: Date.now() - started, bars })
    })
  })

const outcomes: Array<Outcome> = []
for (const mode of modes) {
  console.log(`\n##### ${mode === "pinned" ? "pinned to CPU 0 (taskset -c 0)" : "unpinned"} #####`)
  for (const file of files) for (let r = 0; r < repeat; r++) outcomes.push(await runOne(file, mode))
}

console.log("\n##### summary #####")
for (const o of outcomes) {
  console.log(`${o.code === 0 ? "ok  " : "FAILED"} ${o.file} [${o.mode}] exit ${o.code}, ${(o.ms / 1000).toFixed(1)} s`)
  for (const b of o.bars) console.log(`       ${b}`)
}
process.exitCode = outcomes.every((o) => o.code === 0) ? 0 : 1
