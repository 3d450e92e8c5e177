/**
 * A remote host over TCP: start `troupe serve` (the CLI) with a secret, spawn a calculator on it from
 * this program with the same calls as everywhere else, then stop the server with SIGTERM.
 * Run: npx tsx examples/remote.ts     (the server alone: npx troupe serve --port 29000 examples/hosts/calculator.ts)
 */
import { Effect, Layer, Redacted, Stream } from "effect"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Actor, ActorRef } from "troupe"
import { Remote } from "troupe/node"
import { Calculator } from "./hosts/calculator.ts"
import { check, run } from "./support/check.ts"

// the `troupe` command of the installed package (what `npx troupe` runs)
const cli = fileURLToPath(new URL("./dist/node/cli.js", import.meta.resolve("troupe/package.json")))
const host = fileURLToPath(new URL("./hosts/calculator.ts", import.meta.url))
const secret = randomBytes(24).toString("base64url")
const secretDir = mkdtempSync(join(tmpdir(), "troupe-example-"))
const secretFile = join(secretDir, "secret")
writeFileSync(secretFile, secret, { mode: 0o600 })

/** `troupe serve` as a child process, stopped with SIGTERM when the scope closes. */
const troupeServe = Effect.acquireRelease(
  Effect.callback<{ port: number; stop: Effect.Effect<number | null> }, Error>((resume) => {
    const server = spawn(process.execPath, [cli, "serve", "--port", "0", "--secret-file", secretFile, host], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    const stop = Effect.callback<number | null>((done) => {
      if (server.exitCode !== null) return done(Effect.succeed(server.exitCode))
      server.once("exit", (code) => done(Effect.succeed(code)))
      server.kill("SIGTERM")
    })
    server.stdout.on("data", (chunk: Buffer) => {
      process.stdout.write(`  [server] ${chunk}`)
      const match = /listening on [^\s]+:(\d+)/.exec(chunk.toString())
      if (match !== null) resume(Effect.succeed({ port: Number(match[1]), stop }))
    })
    server.once("exit", (code) => resume(Effect.fail(new Error(`troupe serve exited with ${code}`))))
  }),
  ({ stop }) => Effect.asVoid(stop)
)

const program = Effect.gen(function* () {
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(secretDir, { recursive: true, force: true })))
  const server = yield* troupeServe
  yield* Effect.gen(function* () {
    const calc = yield* Actor.spawn(Calculator, { id: "calc", backend: Remote })
    console.log(`  spawned on ${ActorRef.location(calc)}: ${yield* calc.whereAmI()}`)
    yield* check("remote: 10 + 20", yield* calc.add({ a: 10, b: 20 }), 30)
    const divided = yield* calc
      .divide({ a: 1, b: 0 })
      .pipe(Effect.catchTag("DivideByZero", (e) => Effect.succeed(`DivideByZero(${e.dividend})`)))
    yield* check("remote: 1 / 0 is a typed error", divided, "DivideByZero(1)")
    yield* check("remote: a stream", yield* calc.countdown({ from: 2 }).pipe(Stream.runCollect), [2, 1, 0])
    const wrongSecret = yield* Effect.flip(
      Layer.build(Remote.layer({ host: "127.0.0.1", port: server.port, secret: Redacted.make("guess") }))
    )
    yield* check("a wrong secret is refused", wrongSecret.reason._tag, "Unauthorized")
  }).pipe(Effect.provide(Remote.layer({ host: "127.0.0.1", port: server.port, secret: Redacted.make(secret) })))
  yield* check("the server stops cleanly on SIGTERM", yield* server.stop, 0)
}).pipe(Effect.scoped)

run(program)
