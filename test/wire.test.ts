/**
 * The wire and the Node backends beyond the shared spec: faults (a node killed mid-call and
 * mid-stream), closing and interrupting, malformed frames, the handshake, host modules, and codec errors.
 * Every wait is bounded so that a broken feature fails instead of hanging.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { type Context, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { Actor, ActorError, ActorRef } from "troupe"
import { Subprocess, Workers, type PoolBackend } from "troupe/node"
import { Shout } from "./fixtures/js-host.js"
import { Gate, Worker } from "./fixtures/spec-actors.ts"
import { Liar, Unhosted } from "./fixtures/wire-actors.ts"
import { reasonOf } from "./spec/behaviour.ts"
import { isRunning } from "./support/processes.ts"

const host = new URL("./fixtures/wire-host.ts", import.meta.url)

const bounded = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  self.pipe(Effect.timeoutOrElse({ duration: "15 seconds", orElse: () => Effect.die("the wait timed out") }))

interface BackendOptions {
  readonly host: URL
  readonly size?: number
  readonly wireVersion?: number
  readonly execArgv?: ReadonlyArray<string>
}
const backends: ReadonlyArray<{
  readonly name: string
  readonly key: typeof Workers | typeof Subprocess
  readonly layerWith: (options: BackendOptions) => Layer.Layer<any, ActorError.ActorError>
  readonly layer: (size?: number) => Layer.Layer<any, ActorError.ActorError>
}> = [
  { name: "worker thread", key: Workers, layerWith: Workers.layer, layer: (size = 1) => Workers.layer({ host, size }) },
  {
    name: "child process",
    key: Subprocess,
    layerWith: Subprocess.layer,
    layer: (size = 1) => Subprocess.layer({ host, size })
  }
]

let ids = 0
const fresh = (prefix: string) => `${prefix}-${++ids}`

for (const backend of backends) {
  describe(`${backend.name}: faults`, () => {
    it.live("a node killed mid-call fails the call with PeerDied, and nothing hangs", () =>
      Effect.gen(function* () {
        const pool = (yield* backend.key) as PoolBackend
        const [node] = yield* pool.nodes
        const calc = yield* Actor.spawn(Worker, { id: fresh("victim"), backend: backend.key })
        const gate = yield* Actor.spawn(Gate, { id: fresh("gate"), backend: backend.key })
        const call = yield* Effect.forkChild(calc.hold({ gate: "never", tag: "x" }), { startImmediately: true })
        yield* bounded(gate.await({ name: "entered:never" }))
        const other = yield* Effect.forkChild(calc.add({ a: 1, b: 2 }), { startImmediately: true })
        yield* node!.kill
        const error = yield* bounded(Effect.flip(Fiber.join(call)))
        assert(ActorError.isActorError(error) && error.reason._tag === "PeerDied")
        expect(error.message).toContain("outcome is unknown")
        expect(reasonOf(yield* bounded(Fiber.await(other)))).toBe("PeerDied")
        // later calls fail at once with the same typed error
        expect(reasonOf(yield* bounded(Effect.exit(calc.add({ a: 1, b: 1 }))))).toBe("PeerDied")
        if (node!.pid !== undefined && node!.pid !== process.pid) expect(isRunning(node!.pid)).toBe(false)
      }).pipe(Effect.provide(backend.layer()))
    )

    it.live("a node killed mid-stream fails the stream with PeerDied", () =>
      Effect.gen(function* () {
        const pool = (yield* backend.key) as PoolBackend
        const [node] = yield* pool.nodes
        const calc = yield* Actor.spawn(Worker, { id: fresh("streamer"), backend: backend.key })
        const gate = yield* Actor.spawn(Gate, { id: fresh("gate"), backend: backend.key })
        const consumer = yield* Effect.forkChild(Stream.runDrain(calc.naturals({ name: "killed" })), {
          startImmediately: true
        })
        yield* bounded(gate.await({ name: "stream-started:killed" }))
        yield* node!.kill
        expect(reasonOf(yield* bounded(Fiber.await(consumer)))).toBe("PeerDied")
      }).pipe(Effect.provide(backend.layer()))
    )

    it.live("a node that exits by itself mid-call fails the call with PeerDied", () =>
      Effect.gen(function* () {
        const liar = yield* Actor.spawn(Liar, { id: fresh("quitter"), backend: backend.key })
        const exit = yield* bounded(Effect.exit(liar.exit({ code: 3 })))
        expect(reasonOf(exit)).toBe("PeerDied")
      }).pipe(Effect.provide(backend.layer()))
    )

    it.live("closing the backend's scope ends its nodes, also with a call in flight", () =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const context = (yield* Layer.buildWithScope(backend.layer(2), scope)) as Context.Context<never>
        const pool = (yield* Effect.provide(
          backend.key as Effect.Effect<PoolBackend, never, any>,
          context
        )) as PoolBackend
        const nodes = yield* pool.nodes
        const calc = yield* Actor.spawn(Worker, { id: fresh("held"), backend: backend.key }).pipe(
          Effect.provide(context)
        )
        const call = yield* Effect.forkChild(calc.hold({ gate: "forever", tag: "x" }), { startImmediately: true })
        yield* Scope.close(scope, Exit.void)
        expect(nodes.map((n) => n.alive)).toEqual([false, false])
        for (const n of nodes) if (n.pid !== undefined && n.pid !== process.pid) expect(isRunning(n.pid)).toBe(false)
        expect(reasonOf(yield* bounded(Fiber.await(call)))).toBe("PeerDied")
      })
    )

    it.live("interrupting the program mid-call ends its nodes", () =>
      Effect.gen(function* () {
        let nodes: ReadonlyArray<{ readonly alive: boolean; readonly pid: number | undefined }> = []
        const program = Effect.gen(function* () {
          nodes = yield* ((yield* backend.key) as PoolBackend).nodes
          const calc = yield* Actor.spawn(Worker, { id: fresh("held"), backend: backend.key })
          const gate = yield* Actor.spawn(Gate, { id: fresh("gate"), backend: backend.key })
          yield* Effect.forkChild(calc.hold({ gate: "g", tag: "x" }), { startImmediately: true })
          yield* gate.await({ name: "entered:g" })
          return yield* calc.hold({ gate: "never-opened", tag: "y" })
        }).pipe(Effect.provide(backend.layer()))
        const fiber = yield* Effect.forkChild(program, { startImmediately: true })
        while (nodes.length === 0) yield* Effect.yieldNow
        yield* Fiber.interrupt(fiber)
        expect(nodes.every((n) => !n.alive)).toBe(true)
        for (const n of nodes) if (n.pid !== undefined && n.pid !== process.pid) expect(isRunning(n.pid)).toBe(false)
      })
    )
  })

  describe(`${backend.name}: the link`, () => {
    it.live("a malformed frame closes that node's link with ProtocolError; the other node carries on", () =>
      Effect.gen(function* () {
        const pool = (yield* backend.key) as PoolBackend
        const nodes = yield* pool.nodes
        // find one actor on each node (ids are placed by hash)
        const byNode = new Map<string, ActorRef.ActorRef<typeof Worker>>()
        for (let i = 0; byNode.size < 2 && i < 100; i++) {
          const ref = yield* Actor.spawn(Worker, { id: fresh("spread"), backend: backend.key })
          const node = ActorRef.location(ref)
          if (!byNode.has(node)) byNode.set(node, ref)
        }
        const victim = byNode.get(nodes[0]!.id)!
        const survivor = byNode.get(nodes[1]!.id)!
        yield* nodes[0]!.inject(new Uint8Array([0xff, 0x00, 0x13, 0x37]))
        const error = yield* bounded(
          Effect.gen(function* () {
            while (true) {
              const exit = yield* Effect.exit(victim.add({ a: 1, b: 1 }))
              if (Exit.isFailure(exit)) return yield* Effect.flip(exit)
              yield* Effect.yieldNow
            }
          })
        )
        assert(ActorError.isActorError(error))
        expect(["ProtocolError", "PeerDied"]).toContain(error.reason._tag)
        expect(yield* survivor.add({ a: 2, b: 3 })).toBe(5)
      }).pipe(Effect.provide(backend.layer(2)))
    )

    it.live("a peer speaking another wire version is refused with VersionMismatch", () =>
      Effect.gen(function* () {
        const exit = yield* bounded(Effect.exit(Layer.build(backend.layerWith({ host, wireVersion: 99 }))))
        expect(reasonOf(exit)).toBe("VersionMismatch")
      })
    )

    it.live("only kinds the host module registers can be spawned", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Actor.spawn(Unhosted, { id: fresh("x"), backend: backend.key }))
        assert(error.reason._tag === "UnknownProtocol")
        expect(error.reason.protocol).toBe("Unhosted")
      }).pipe(Effect.provide(backend.layer()))
    )

    it.live("a reply that breaks its Schema arrives as DecodeError; a bad payload never leaves", () =>
      Effect.gen(function* () {
        const liar = yield* Actor.spawn(Liar, { id: fresh("liar"), backend: backend.key })
        const error = yield* Effect.flip(liar.number())
        assert(error.reason._tag === "DecodeError")
        expect([error.reason.actorId, error.reason.method, error.reason.part]).toEqual([liar.id, "number", "success"])
        expect(error.reason.message).toContain("Expected number")
        const calc = yield* Actor.spawn(Worker, { id: fresh("calc"), backend: backend.key })
        const bad = yield* Effect.flip(calc.add({ a: "one" as unknown as number, b: 2 }))
        assert(ActorError.isActorError(bad) && bad.reason._tag === "DecodeError")
        expect(bad.reason.part).toBe("payload")
        expect(yield* calc.add({ a: 1, b: 2 })).toBe(3)
      }).pipe(Effect.provide(backend.layer()))
    )

    it.live("messages under the frame limit sent in one tick arrive, both ways, though together they are over it", () =>
      Effect.gen(function* () {
        // 8 payloads and 8 replies of 10 MB: one batch each way would be over a child's 64 MiB limit
        const calc = yield* Actor.spawn(Worker, { id: fresh("big"), backend: backend.key })
        const other = yield* Actor.spawn(Worker, { id: fresh("other"), backend: backend.key })
        const size = 10 * 1024 * 1024
        const replies = yield* Effect.forEach(
          Array.from({ length: 8 }),
          () => calc.describe({ bytes: new Uint8Array(size), at: new Date(0), big: 1n }),
          { concurrency: "unbounded" }
        )
        expect(replies.map((r) => [r.length, r.bytes.length, r.bytes[size - 1]])).toEqual(
          Array.from({ length: 8 }, () => [size, size, 1])
        )
        expect(yield* other.add({ a: 1, b: 2 })).toBe(3)
      }).pipe(Effect.provide(backend.layer()), bounded)
    )

    it.live("a host module that fails to load fails the Layer with HostFailed", () =>
      Effect.gen(function* () {
        for (const [file, needle] of [
          ["./fixtures/bad-host-throws.ts", "this host module is broken"],
          ["./fixtures/bad-host-empty.ts", "exports no Layer"],
          ["./fixtures/no-such-host.ts", "cannot import"]
        ] as const) {
          const badHost = new URL(file, import.meta.url)
          const error = yield* bounded(Effect.flip(Layer.build(backend.layerWith({ host: badHost }))))
          assert(ActorError.isActorError(error) && error.reason._tag === "HostFailed")
          expect(error.message).toContain(needle)
        }
      })
    )

    it.live("a node that cannot start (an option Node refuses) fails the Layer with HostFailed", () =>
      Effect.gen(function* () {
        // a worker refuses process-wide flags at construction (it throws); a child exits at once
        const execArgv = backend.key === Workers ? ["--expose-gc"] : ["--no-such-node-flag"]
        const error = yield* bounded(Effect.flip(Layer.build(backend.layerWith({ host, execArgv }))))
        assert(ActorError.isActorError(error) && error.reason._tag === "HostFailed")
        expect(error.message).toContain("before its handshake")
      })
    )

    it.live("a host module written as plain JavaScript", () =>
      Effect.gen(function* () {
        const jsHost = new URL("./fixtures/js-host.js", import.meta.url)
        const layer = backend.layerWith({ host: jsHost })
        const reply = yield* Effect.gen(function* () {
          const shout = yield* Actor.spawn(Shout, { id: "shout", backend: backend.key })
          return yield* shout.shout("hello")
        }).pipe(Effect.provide(layer))
        expect(reply).toBe("HELLO!")
      })
    )
  })
}

it.live("several backends at once, chosen per spawn", () =>
  Effect.gen(function* () {
    const inWorker = yield* Actor.spawn(Worker, { id: "same-id", backend: Workers })
    const inChild = yield* Actor.spawn(Worker, { id: "same-id", backend: Subprocess })
    yield* inWorker.record({ entry: "worker" })
    yield* inChild.record({ entry: "child" })
    expect(yield* inWorker.history()).toEqual(["worker"])
    expect(yield* inChild.history()).toEqual(["child"])
    expect(ActorRef.location(inWorker)).toMatch(/\/worker-/)
    expect(ActorRef.location(inChild)).toMatch(/\/child-/)
  }).pipe(Effect.provide(Layer.merge(Workers.layer({ host }), Subprocess.layer({ host }))))
)
