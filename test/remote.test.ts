/**
 * The TCP backend against a real `troupe serve` process: the behavioural spec, faults (server killed
 * mid-call and mid-stream, a dropped socket, a shutdown), isolation between clients, and every
 * security option proven to be read.
 */
import { afterAll, assert, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Redacted, Schedule, Stream } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Actor, ActorError, DeadLetter } from "troupe"
import { Remote, type RemoteOptions } from "troupe/node"
import { Gate, Worker } from "./fixtures/spec-actors.ts"
import { Unhosted } from "./fixtures/wire-actors.ts"
import { behaviourSpec, reasonOf } from "./spec/behaviour.ts"
import { cli, fixture, runCli, serve } from "./support/serve.ts"
import { isRunning } from "./support/processes.ts"

const secret = "correct horse battery staple"
const secretDir = mkdtempSync(join(tmpdir(), "troupe-secret-"))
const secretFile = join(secretDir, "secret")
writeFileSync(secretFile, `${secret}\n`)
afterAll(() => rmSync(secretDir, { recursive: true, force: true }))
const cert = readFileSync(fixture("tls/cert.pem"), "utf8")
const otherCert = readFileSync(fixture("tls/other-cert.pem"), "utf8")

const bounded = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  self.pipe(Effect.timeoutOrElse({ duration: "15 seconds", orElse: () => Effect.die("the wait timed out") }))

/** A Remote Layer to a server started (and stopped) with it. */
const withServer = (
  args: ReadonlyArray<string>,
  client: (port: number) => Layer.Layer<Remote, ActorError.ActorError>
) => Layer.unwrap(Effect.map(serve(args), (served) => client(served.port)))

behaviourSpec("remote TCP (troupe serve)", {
  layer: withServer(["--secret-file", secretFile], (port) =>
    Remote.layer({ host: "127.0.0.1", port, secret: Redacted.make(secret) })
  ),
  backend: Remote
})

const client = (port: number, options: Partial<RemoteOptions> = {}) =>
  Remote.layer({ host: "127.0.0.1", port, secret: Redacted.make(secret), ...options })

/** Builds a client Layer in the current scope and returns its backend. */
const connect = (port: number, options: Partial<RemoteOptions> = {}) =>
  Effect.map(Layer.build(client(port, options)), (context) => context)

let ids = 0
const fresh = (prefix: string) => `${prefix}-${++ids}`

describe("remote: faults", () => {
  it.live("killing the server mid-call and mid-stream fails both with Disconnected", () =>
    Effect.gen(function* () {
      const served = yield* serve(["--secret-file", secretFile])
      const ctx = yield* connect(served.port)
      const run = <A, E>(e: Effect.Effect<A, E, any>) => Effect.provide(e, ctx)
      const calc = yield* run(Actor.spawn(Worker, { id: "calc", backend: Remote }))
      const gate = yield* run(Actor.spawn(Gate, { id: "gate", backend: Remote }))
      const call = yield* Effect.forkChild(calc.hold({ gate: "never", tag: "x" }), { startImmediately: true })
      yield* bounded(gate.await({ name: "entered:never" }))
      const streamer = yield* run(Actor.spawn(Worker, { id: "streamer", backend: Remote }))
      const consumer = yield* Effect.forkChild(Stream.runDrain(streamer.naturals({ name: "killed" })), {
        startImmediately: true
      })
      yield* bounded(gate.await({ name: "stream-started:killed" }))
      served.process.kill("SIGKILL")
      const error = yield* bounded(Effect.flip(Fiber.join(call)))
      assert(ActorError.isActorError(error) && error.reason._tag === "Disconnected")
      expect(error.message).toContain("outcome is unknown")
      expect(reasonOf(yield* bounded(Fiber.await(consumer)))).toBe("Disconnected")
      expect(reasonOf(yield* bounded(Effect.exit(calc.add({ a: 1, b: 1 }))))).toBe("Disconnected")
    })
  )

  it.live("a dropped socket fails calls in flight with Disconnected; another client is untouched", () =>
    Effect.gen(function* () {
      const served = yield* serve(["--secret-file", secretFile])
      const a = yield* connect(served.port)
      const b = yield* connect(served.port)
      const inA = yield* Effect.provide(Actor.spawn(Worker, { id: "shared-id", backend: Remote }), a)
      const gateA = yield* Effect.provide(Actor.spawn(Gate, { id: "gate", backend: Remote }), a)
      const inB = yield* Effect.provide(Actor.spawn(Worker, { id: "shared-id", backend: Remote }), b)
      yield* inB.record({ entry: "b was here" })
      const call = yield* Effect.forkChild(inA.hold({ gate: "drop", tag: "x" }), { startImmediately: true })
      yield* bounded(gateA.await({ name: "entered:drop" }))
      yield* Effect.provide(
        Effect.flatMap(Remote, (r) => r.drop),
        a
      )
      expect(reasonOf(yield* bounded(Fiber.await(call)))).toBe("Disconnected")
      expect(yield* inB.history()).toEqual(["b was here"])
      expect(yield* inB.add({ a: 2, b: 2 })).toBe(4)
    })
  )

  it.live("SIGTERM shuts down cleanly: calls in flight get Disconnected, actors' finalizers run", () =>
    Effect.gen(function* () {
      const served = yield* serve(["--secret-file", secretFile])
      const ctx = yield* connect(served.port)
      const calc = yield* Effect.provide(Actor.spawn(Worker, { id: "calc", backend: Remote }), ctx)
      const gate = yield* Effect.provide(Actor.spawn(Gate, { id: "gate", backend: Remote }), ctx)
      const call = yield* Effect.forkChild(calc.hold({ gate: "sigterm", tag: "x" }), { startImmediately: true })
      yield* bounded(gate.await({ name: "entered:sigterm" }))
      served.process.kill("SIGTERM")
      const error = yield* bounded(Effect.flip(Fiber.join(call)))
      assert(ActorError.isActorError(error) && error.reason._tag === "Disconnected")
      expect(error.message).toContain("shutting down")
      expect(yield* bounded(served.exited)).toBe(0)
      expect(served.output()).toContain("troupe serve: stopped")
    })
  )
})

describe("remote: under npx", () => {
  it.live("the server stops, cleanly, once its npx process is gone (npm passes no signal on)", () =>
    Effect.gen(function* () {
      // a stand-in for npm exec: a process that runs the CLI as its child, with npm's environment
      const script = [
        `const { spawn } = require("node:child_process")`,
        `const args = ${JSON.stringify([cli, "serve", "--port", "0", fixture("wire-host.ts")])}`,
        `const env = { ...process.env, npm_command: "exec" }`,
        `delete env.TROUPE_SECRET`,
        `const server = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"], env })`,
        `console.log("server pid " + server.pid)`
      ].join("\n")
      const npx = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] })
      let output = ""
      npx.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
      const listening = Effect.suspend(() =>
        output.includes("listening on")
          ? Effect.succeed(Number(/server pid (\d+)/.exec(output)![1]))
          : Effect.fail("not yet")
      )
      const pid = yield* bounded(Effect.retry(listening, Schedule.spaced("20 millis")))
      npx.kill("SIGKILL")
      yield* bounded(
        Effect.retry(
          Effect.suspend(() => (isRunning(pid) ? Effect.fail("still running") : Effect.void)),
          Schedule.spaced("20 millis")
        )
      )
      expect(output).toContain("troupe serve: its npx process is gone, shutting down")
      expect(output).toContain("troupe serve: stopped")
    })
  )
})

describe("remote: isolation", () => {
  it.live("a client reaches only the actors it spawned", () =>
    Effect.gen(function* () {
      const served = yield* serve(["--secret-file", secretFile])
      const a = yield* connect(served.port)
      const b = yield* connect(served.port)
      const mine = yield* Effect.provide(Actor.spawn(Worker, { id: "private", backend: Remote }), a)
      yield* mine.record({ entry: "a's secret" })
      const lookedUp = yield* Effect.exit(Effect.provide(Actor.lookup(Worker, "private", { backend: Remote }), b))
      expect(reasonOf(lookedUp)).toBe("NotFound")
      const theirs = yield* Effect.provide(Actor.getOrSpawn(Worker, { id: "private", backend: Remote }), b)
      expect(yield* theirs.history()).toEqual([])
      expect(yield* mine.history()).toEqual(["a's secret"])
    })
  )

  it.live("only kinds the served module registers can be spawned", () =>
    Effect.gen(function* () {
      const served = yield* serve(["--secret-file", secretFile])
      const ctx = yield* connect(served.port)
      const error = yield* Effect.flip(Effect.provide(Actor.spawn(Unhosted, { id: "x", backend: Remote }), ctx))
      assert(error.reason._tag === "UnknownProtocol")
      const calc = yield* Effect.provide(Actor.spawn(Worker, { id: "ok", backend: Remote }), ctx)
      expect(yield* calc.add({ a: 1, b: 2 })).toBe(3)
    })
  )
})

describe("remote: every security option is read", () => {
  it.live("the secret: right works, wrong or missing is Unauthorized (from --secret-file and TROUPE_SECRET)", () =>
    Effect.gen(function* () {
      for (const [args, env] of [
        [["--secret-file", secretFile], {}],
        [[], { TROUPE_SECRET: secret }]
      ] as const) {
        const served = yield* serve(args, undefined, env)
        const ok = yield* connect(served.port)
        const calc = yield* Effect.provide(Actor.spawn(Worker, { id: fresh("ok"), backend: Remote }), ok)
        expect(yield* calc.add({ a: 1, b: 1 })).toBe(2)
        for (const wrong of [{ secret: Redacted.make("wrong") }, { secret: undefined }]) {
          const error = yield* Effect.flip(connect(served.port, wrong))
          assert(error.reason._tag === "Unauthorized")
        }
        expect(yield* calc.add({ a: 2, b: 2 })).toBe(4)
      }
    })
  )

  it.live("without a secret the server takes any client; a client's secret is then unused", () =>
    Effect.gen(function* () {
      const served = yield* serve([])
      const ctx = yield* connect(served.port, { secret: undefined })
      const calc = yield* Effect.provide(Actor.spawn(Worker, { id: "open", backend: Remote }), ctx)
      expect(yield* calc.add({ a: 1, b: 1 })).toBe(2)
    })
  )

  it.live("TLS: a client trusting the certificate connects; plain TCP and a wrong CA do not", () =>
    Effect.gen(function* () {
      const served = yield* serve([
        "--secret-file",
        secretFile,
        "--tls-cert",
        fixture("tls/cert.pem"),
        "--tls-key",
        fixture("tls/key.pem")
      ])
      const ok = yield* connect(served.port, { tls: { ca: cert } })
      const calc = yield* Effect.provide(Actor.spawn(Worker, { id: "tls", backend: Remote }), ok)
      expect(yield* calc.add({ a: 3, b: 4 })).toBe(7)
      const plain = yield* Effect.flip(connect(served.port, { connectTimeout: 3000 }))
      expect(["Unreachable", "ProtocolError"]).toContain(plain.reason._tag)
      const wrongCa = yield* Effect.flip(connect(served.port, { tls: { ca: otherCert } }))
      assert(wrongCa.reason._tag === "Unreachable")
      expect(wrongCa.message).toMatch(/certificate|self.signed/i)
      expect(yield* calc.add({ a: 1, b: 1 })).toBe(2)
    })
  )

  it.live("--host: a non-loopback bind is refused without a secret or TLS, allowed with one", () =>
    Effect.gen(function* () {
      const refused = yield* runCli(["serve", "--host", "0.0.0.0", "--port", "0", fixture("wire-host.ts")])
      expect(refused.code).toBe(2)
      expect(refused.output).toContain("refusing to bind 0.0.0.0")
      const served = yield* serve(["--host", "0.0.0.0", "--secret-file", secretFile])
      expect(served.output()).toContain("on 0.0.0.0:")
      const ctx = yield* connect(served.port)
      const calc = yield* Effect.provide(Actor.spawn(Worker, { id: "any", backend: Remote }), ctx)
      expect(yield* calc.add({ a: 1, b: 1 })).toBe(2)
    })
  )

  it.live("--max-frame: the client keeps under the server's limit; a message over it fails alone, typed", () =>
    Effect.gen(function* () {
      const served = yield* serve(["--secret-file", secretFile, "--max-frame", "65536"])
      const ctx = yield* connect(served.port)
      const calc = yield* Effect.provide(Actor.spawn(Worker, { id: "big", backend: Remote }), ctx)
      const letters = yield* Effect.provide(DeadLetter.subscribe(), ctx)
      const bytes = (n: number) => ({ bytes: new Uint8Array(n), at: new Date(0), big: 1n })
      // 16 payloads of 20 kB in one tick: one batch would be over the limit, so they go in several
      const many = yield* Effect.forEach(Array.from({ length: 16 }), () => calc.describe(bytes(20_000)), {
        concurrency: "unbounded"
      })
      expect(many.map((r) => r.length)).toEqual(Array.from({ length: 16 }, () => 20_000))
      // one payload over the limit by itself: that call fails, and the connection carries on
      const exit = yield* Effect.exit(calc.describe(bytes(100_000)))
      expect(reasonOf(exit)).toBe("DecodeError")
      expect(String(Exit.isFailure(exit) && exit.cause)).toContain("over the peer's limit of 65536 bytes")
      // a cast over the limit is dropped (casts are at most once), as a dead letter; the link still works
      yield* calc.record({ entry: "x".repeat(100_000) })
      yield* calc.record({ entry: "small" })
      expect(yield* calc.history()).toEqual(["small"])
      const [letter] = yield* letters.pipe(Stream.take(1), Stream.runCollect)
      expect(letter).toMatchObject({ kind: "cast", target: "big", name: "record", reason: "DecodeError" })
      expect(letter?.message).toContain("over the peer's limit of 65536 bytes")
    })
  )

  it.live("maxFrame: a reply or stream chunk over the client's limit fails its own request, typed", () =>
    Effect.gen(function* () {
      const served = yield* serve(["--secret-file", secretFile])
      const calc = yield* Effect.provide(
        Actor.spawn(Worker, { id: "replies", backend: Remote }),
        yield* connect(served.port, { maxFrame: 65536 })
      )
      const exit = yield* Effect.exit(calc.describe({ bytes: new Uint8Array(100_000), at: new Date(0), big: 1n }))
      expect(reasonOf(exit)).toBe("DecodeError")
      expect(yield* calc.add({ a: 1, b: 2 })).toBe(3)
      // a stream's chunk over the limit travels element by element; an element over it ends the stream
      const chunked = yield* calc.blobs({ sizes: [40_000, 40_000, 40_000] }).pipe(Stream.runCollect)
      expect(Array.from(chunked).map((b) => b.length)).toEqual([40_000, 40_000, 40_000])
      const ended = yield* Effect.exit(calc.blobs({ sizes: [10, 100_000, 10] }).pipe(Stream.runCollect))
      expect(reasonOf(ended)).toBe("DecodeError")
      // many replies of 20 kB at once arrive in several batches
      const many = yield* Effect.forEach(
        Array.from({ length: 16 }),
        () => calc.describe({ bytes: new Uint8Array(20_000), at: new Date(0), big: 1n }),
        { concurrency: "unbounded" }
      )
      expect(many).toHaveLength(16)
    })
  )

  it.live("--session-ttl: a disconnected client's actors are stopped after the TTL", () =>
    Effect.gen(function* () {
      const served = yield* serve(["--secret-file", secretFile, "--session-ttl", "200"])
      const watcher = yield* connect(served.port)
      const gate = yield* Effect.provide(Actor.spawn(Gate, { id: "gate", backend: Remote }), watcher)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const leaving = yield* connect(served.port)
          yield* Effect.provide(Actor.spawn(Worker, { id: "orphan", backend: Remote }), leaving)
        })
      )
      yield* bounded(gate.await({ name: "finalized:orphan" }))
    })
  )

  it.live("--handshake-timeout: a client that never authenticates is told so and disconnected", () =>
    Effect.gen(function* () {
      const served = yield* serve(["--handshake-timeout", "300"])
      const net = yield* Effect.promise(() => import("node:net"))
      const closedWith = yield* bounded(
        Effect.callback<string>((resume) => {
          const socket = net.connect({ host: "127.0.0.1", port: served.port })
          let data = ""
          socket.on("data", (d) => (data += d.toString("latin1")))
          socket.on("close", () => resume(Effect.succeed(data)))
          socket.on("error", () => {})
        })
      )
      expect(closedWith).toContain("did not finish in time")
    })
  )
})
