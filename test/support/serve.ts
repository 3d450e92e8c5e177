/**
 * Starts a real `troupe serve` process (the compiled CLI in dist/) for tests, waits for its "listening"
 * line, and stops it with SIGTERM (or SIGKILL) in the test's scope. No wait is unbounded.
 */
import { Effect, Scope } from "effect"
import { spawn, type ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"

export const cli = fileURLToPath(new URL("../../dist/node/cli.js", import.meta.url))
// servers start from a known environment: a TROUPE_SECRET of the developer's must not leak into tests
const { TROUPE_SECRET: _ignored, ...withoutSecret } = process.env

export const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

export interface Served {
  readonly port: number
  readonly process: ChildProcess
  /** Everything the server printed so far. */
  readonly output: () => string
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Effect.Effect<number | string>
}

/** Runs `troupe serve` with the given arguments and host module; the scope ends it. */
export const serve = (
  args: ReadonlyArray<string>,
  module = fixture("wire-host.ts"),
  env: NodeJS.ProcessEnv = {}
): Effect.Effect<Served, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Served, Error>((resume) => {
      const child = spawn(process.execPath, [cli, "serve", "--port", "0", ...args, module], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...withoutSecret, ...env }
      })
      let output = ""
      let exitedWith: number | string | undefined
      const waiters: Array<(code: number | string) => void> = []
      child.on("exit", (code, signal) => {
        exitedWith = code ?? signal ?? "unknown"
        for (const w of waiters.splice(0)) w(exitedWith)
      })
      const exited = Effect.callback<number | string>((done) => {
        if (exitedWith !== undefined) done(Effect.succeed(exitedWith))
        else waiters.push((code) => done(Effect.succeed(code)))
      })
      const timer = setTimeout(() => {
        child.kill("SIGKILL")
        resume(Effect.fail(new Error(`troupe serve did not start:\n${output}`)))
      }, 20_000)
      const onData = (d: Buffer) => {
        output += d.toString()
        const m = /listening on [^\s]+:(\d+)/.exec(output)
        if (m !== null) {
          clearTimeout(timer)
          resume(Effect.succeed({ port: Number(m[1]), process: child, output: () => output, exited }))
        }
      }
      child.stdout.on("data", onData)
      child.stderr.on("data", (d: Buffer) => (output += d.toString()))
      child.on("exit", () => {
        clearTimeout(timer)
        resume(Effect.fail(new Error(`troupe serve exited before listening:\n${output}`)))
      })
    }),
    (served) =>
      Effect.gen(function* () {
        if (served.process.exitCode !== null || served.process.signalCode !== null) return
        served.process.kill("SIGTERM")
        yield* served.exited.pipe(
          Effect.timeoutOrElse({
            duration: "10 seconds",
            orElse: () => Effect.sync(() => served.process.kill("SIGKILL"))
          })
        )
      })
  )

/** Runs the CLI to completion (for arguments it must refuse) and returns its exit code and output. */
export const runCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) =>
  Effect.callback<{ code: number | null; output: string }>((resume) => {
    const child = spawn(process.execPath, [cli, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...withoutSecret, ...env }
    })
    let output = ""
    child.stdout.on("data", (d: Buffer) => (output += d.toString()))
    child.stderr.on("data", (d: Buffer) => (output += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000)
    child.on("exit", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, output }))
    })
  })
