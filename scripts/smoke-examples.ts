/**
 * Smoke-runs every example as a user would (`npx tsx examples/<name>.ts`): each must exit 0, print at
 * least one ✓ line and no ✗ line. Examples run two at a time; each has a deadline, so nothing hangs.
 */
import { spawn } from "node:child_process"
import { readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const deadlineMs = 120_000

/** Examples are the .ts files directly in examples/ (helpers and host modules live in subfolders). */
const examples = readdirSync(new URL("../examples/", import.meta.url))
  .filter((f) => f.endsWith(".ts"))
  .sort()
  .map((f) => `examples/${f}`)

interface Outcome {
  readonly file: string
  readonly ok: boolean
  readonly detail: string
  readonly ms: number
}

const runOne = (file: string): Promise<Outcome> =>
  new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(process.execPath, ["--import", "tsx", file], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => (out += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), deadlineMs)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      const ticks = out.split("\n").filter((l) => l.includes("✓")).length
      const crosses = out.split("\n").filter((l) => l.includes("✗")).length
      const ok = code === 0 && ticks > 0 && crosses === 0
      const detail = ok
        ? `${ticks} checks`
        : `exit ${code ?? signal}, ${ticks} ✓, ${crosses} ✗\n${out.trim().split("\n").slice(-30).join("\n")}`
      resolve({ file, ok, detail, ms: Date.now() - started })
    })
  })

const outcomes: Array<Outcome> = []
const queue = [...examples]
await Promise.all(
  [0, 1].map(async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) outcomes.push(await runOne(file))
  })
)
outcomes.sort((a, b) => a.file.localeCompare(b.file))
for (const o of outcomes) console.log(`${o.ok ? "✓" : "✗"} ${o.file} (${o.ms} ms): ${o.detail}`)
const failed = outcomes.filter((o) => !o.ok).length
console.log(failed === 0 ? `all ${outcomes.length} examples passed` : `${failed} of ${outcomes.length} examples failed`)
process.exitCode = failed === 0 ? 0 : 1
