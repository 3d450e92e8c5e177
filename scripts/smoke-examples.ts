/**
 * Smoke-runs every example as a user would (`npx tsx examples/<name>.ts`): each must exit 0, print at
 * least one ✓ line and no ✗ line. Also runs the full actor demo (`--demo all --with-remote
 * --own-server`: it starts examples/actor-demo/remote-server.ts, checks it, and stops it), and the
 * getting-started steps, checking their output (step 4 against a `troupe serve` started here).
 * Runs go two at a time; each has a deadline, so nothing hangs.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const deadlineMs = 60_000

interface Run {
  /** What is printed, and the command's arguments after `tsx`. */
  readonly args: ReadonlyArray<string>
  /** Without `expect`, the run must print ✓ lines (its self-checks) and no ✗ line. */
  readonly expect?: RegExp
  /** Started before the run (e.g. a server); gives extra environment variables and a way to stop it. */
  readonly before?: () => Promise<{ readonly env: Record<string, string>; readonly stop: () => Promise<void> }>
}

/** `troupe serve` (the built CLI) on a free port with a fresh secret, for getting-started step 4. */
const troupeServe = (module: string) => async () => {
  const secret = randomBytes(18).toString("base64url")
  const server: ChildProcess = spawn(process.execPath, ["dist/node/cli.js", "serve", "--port", "0", module], {
    cwd: root,
    env: { ...process.env, TROUPE_SECRET: secret },
    stdio: ["ignore", "pipe", "inherit"]
  })
  const port = await new Promise<string>((resolve, reject) => {
    let out = ""
    server.stdout!.on("data", (d) => {
      out += d
      const match = /listening on [^\s]+:(\d+)/.exec(out)
      if (match !== null) resolve(match[1]!)
    })
    server.once("exit", (code) => reject(new Error(`troupe serve exited with ${code}: ${out}`)))
  })
  const stop = () =>
    new Promise<void>((resolve) => {
      if (server.exitCode !== null) return resolve()
      server.once("exit", () => resolve())
      server.kill("SIGTERM")
    })
  return { env: { TROUPE_SECRET: secret, TROUPE_PORT: port }, stop }
}

/** Examples are the .ts files directly in examples/ (helpers and host modules live in subfolders). */
const examples: Array<Run> = readdirSync(new URL("../examples/", import.meta.url))
  .filter((f) => f.endsWith(".ts"))
  .sort()
  .map((f) => ({ args: [`examples/${f}`] }))

const greeted = /Hello, Ada! \(greeting #1.*\nHello, Grace! \(greeting #2/
const runs: Array<Run> = [
  { args: ["examples/actor-demo/actor-demo.ts", "--demo", "all", "--with-remote", "--own-server"] },
  ...examples,
  { args: ["examples/getting-started/1-in-process.ts"], expect: greeted },
  { args: ["examples/getting-started/2-worker-thread.ts"], expect: greeted },
  { args: ["examples/getting-started/3-child-process.ts"], expect: greeted },
  {
    args: ["examples/getting-started/4-remote.ts"],
    expect: greeted,
    before: troupeServe("examples/getting-started/greeter.ts")
  }
]

interface Outcome {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
  readonly ms: number
}

const runOne = async (run: Run): Promise<Outcome> => {
  const name = run.args.join(" ")
  const started = Date.now()
  let setup: Awaited<ReturnType<NonNullable<Run["before"]>>> | undefined
  try {
    setup = await run.before?.()
  } catch (e) {
    return { name, ok: false, detail: `setup failed: ${e instanceof Error ? e.message : e}`, ms: 0 }
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", ...run.args], {
      cwd: root,
      env: { ...process.env, ...setup?.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => (out += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), deadlineMs)
    child.on("close", async (code, signal) => {
      clearTimeout(timer)
      await setup?.stop()
      const lines = out.split("\n")
      const ticks = lines.filter((l) => l.includes("✓")).length
      const crosses = lines.filter((l) => l.includes("✗")).length
      const ok = code === 0 && (run.expect !== undefined ? run.expect.test(out) : ticks > 0 && crosses === 0)
      const detail = ok
        ? run.expect !== undefined
          ? "output as expected"
          : `${ticks} checks`
        : `exit ${code ?? signal}, ${ticks} ✓, ${crosses} ✗\n${out.trim().split("\n").slice(-30).join("\n")}`
      resolve({ name, ok, detail, ms: Date.now() - started })
    })
  })
}

const started = Date.now()
const outcomes: Array<Outcome> = []
const queue = [...runs]
await Promise.all(
  [0, 1].map(async () => {
    for (let run = queue.shift(); run !== undefined; run = queue.shift()) outcomes.push(await runOne(run))
  })
)
for (const o of outcomes) console.log(`${o.ok ? "✓" : "✗"} ${o.name} (${o.ms} ms): ${o.detail}`)
const failed = outcomes.filter((o) => !o.ok).length
const seconds = ((Date.now() - started) / 1000).toFixed(1)
console.log(
  failed === 0
    ? `all ${outcomes.length} runs passed in ${seconds} s`
    : `${failed} of ${outcomes.length} runs failed (${seconds} s)`
)
process.exitCode = failed === 0 ? 0 : 1
