/**
 * The link itself, over an in-memory transport whose writes the test can count and hold: batching of
 * one tick's frames, the stream credit window, request ids, and the handshake.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Stream } from "effect"
import { ActorError, ActorSystem, Behaviour } from "troupe"
import { cbor } from "../src/internal/codec.ts"
import * as F from "../src/internal/wire/frame.ts"
import { Link } from "../src/internal/wire/link.ts"
import { Worker, WorkerLive } from "./fixtures/spec-actors.ts"

const microtask = Effect.promise(() => new Promise<void>((resolve) => queueMicrotask(resolve)))
/** Lets scheduled fibers and microtasks run (streams start their producer through the scheduler). */
const settle = Effect.gen(function* () {
  for (let i = 0; i < 5; i++) {
    yield* Effect.yieldNow
    yield* microtask
  }
})

/** Two links joined by in-memory transports; delivery happens only when the test pumps. */
const pair = (batchLimit?: number) =>
  Effect.gen(function* () {
    const system = yield* ActorSystem.ActorSystem
    const context = yield* Effect.context<never>()
    const impl = Context.get(context as Context.Context<Behaviour.Behaviour<typeof Worker>>, Behaviour.key(Worker))
    const toServer: Array<Uint8Array> = []
    const toClient: Array<Uint8Array> = []
    const host = { system, behaviours: new Map([[Worker.name, impl]]), context }
    const client = new Link(
      { write: (b) => void toServer.push(b.slice()), close: () => {} },
      { nodeId: "client", peerLabel: "server", host: { ...host, behaviours: new Map() }, batchLimit }
    )
    const server = new Link(
      { write: (b) => void toClient.push(b.slice()), close: () => {} },
      { nodeId: "server", peerLabel: "client", host, batchLimit }
    )
    /** Delivers everything written so far, both ways, until nothing moves. */
    const pump = Effect.gen(function* () {
      for (let round = 0; round < 10_000; round++) {
        yield* settle
        if (toServer.length === 0 && toClient.length === 0) return
        for (const b of toServer.splice(0)) server.receive(b)
        for (const b of toClient.splice(0)) client.receive(b)
      }
    })
    client.start()
    server.start()
    yield* pump
    return { client, server, toServer, toClient, pump }
  })

const env = Layer.merge(WorkerLive, ActorSystem.layer())

describe("link", () => {
  it.effect("frames of one tick travel as one batch; a batch limit splits them", () =>
    Effect.gen(function* () {
      for (const [limit, writes] of [
        [undefined, 1],
        [16, 4]
      ] as const) {
        const { client, toServer, pump } = yield* pair(limit)
        const ref = yield* Effect.forkChild(client.spawn(Worker, { id: `batched-${limit}` }, false), {
          startImmediately: true
        })
        yield* pump
        const calc = (yield* Fiber.join(ref)) as unknown as {
          add: (p: { a: number; b: number }) => Effect.Effect<number>
        }
        const calls = yield* Effect.forEach(
          Array.from({ length: 64 }, (_, i) => i),
          (i) => Effect.forkChild(calc.add({ a: i, b: 1 }), { startImmediately: true })
        )
        yield* microtask
        expect(toServer.length).toBe(writes)
        const frames = toServer.flatMap((b) => cbor.decode(b) as Array<Array<unknown>>)
        expect(frames.length).toBe(64)
        expect(new Set(frames.map((f) => f[1])).size).toBe(64) // one request id per call
        yield* pump
        const results = yield* Fiber.joinAll(calls)
        expect(results).toEqual(Array.from({ length: 64 }, (_, i) => i + 1))
      }
    }).pipe(Effect.provide(env))
  )

  it.effect("a stream sends no more elements than the caller's credit allows", () =>
    Effect.gen(function* () {
      const { client, server, toClient, pump } = yield* pair()
      const spawned = yield* Effect.forkChild(client.spawn(Worker, { id: "streamer" }, false), {
        startImmediately: true
      })
      yield* pump
      yield* Fiber.join(spawned)
      const incarnation = (yield* ActorSystem.ActorSystem).cellOf("streamer")!.incarnation
      // ask the server directly for an endless stream with a credit of 10 elements
      server.receive(cbor.encode([[F.STREAM, 77, "streamer", incarnation, "naturals", { name: "credit" }, 10]]))
      const chunks = () =>
        toClient
          .flatMap((b) => cbor.decode(b) as Array<Array<any>>)
          .filter((f) => f[0] === F.CHUNK && f[1] === 77)
          .flatMap((f) => f[2] as Array<number>)
      /** Runs the scheduler until the producer has stopped sending (no new element in 20 rounds). */
      const untilQuiet = Effect.gen(function* () {
        let last = -1
        for (let quiet = 0, rounds = 0; quiet < 20 && rounds < 2000; rounds++) {
          yield* settle
          const n = chunks().length
          quiet = n === last ? quiet + 1 : 0
          last = n
        }
      })
      yield* untilQuiet
      expect(chunks()).toEqual(Array.from({ length: 10 }, (_, i) => i))
      server.receive(cbor.encode([[F.DEMAND, 77, 5]]))
      yield* untilQuiet
      expect(chunks()).toEqual(Array.from({ length: 15 }, (_, i) => i))
      server.receive(cbor.encode([[F.INTERRUPT, 77]]))
    }).pipe(Effect.provide(env))
  )

  it.effect("a consumer that reads slowly holds the producer to the credit window", () =>
    Effect.gen(function* () {
      const { client, pump } = yield* pair()
      const spawned = yield* Effect.forkChild(client.spawn(Worker, { id: "slow" }, false), {
        startImmediately: true
      })
      yield* pump
      const ref = (yield* Fiber.join(spawned)) as unknown as {
        naturals: (p: { name: string }) => Stream.Stream<number>
      }
      const seen: Array<number> = []
      const consumer = yield* Effect.forkChild(
        ref.naturals({ name: "slow" }).pipe(
          Stream.take(1000),
          Stream.runForEach((n) => Effect.sync(() => seen.push(n)))
        ),
        { startImmediately: true }
      )
      yield* pump
      yield* Fiber.join(consumer)
      expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i))
    }).pipe(Effect.provide(env))
  )

  it.effect("a frame before the handshake, or a bad magic, closes the link with ProtocolError", () =>
    Effect.gen(function* () {
      const system = yield* ActorSystem.ActorSystem
      const host = { system, behaviours: new Map(), context: Context.empty() }
      for (const batch of [[[F.CALL, 1, "x", 1, "add", {}]], [[F.HELLO, "not-troupe", F.VERSION, "peer", []]]]) {
        const link = new Link({ write: () => {}, close: () => {} }, { nodeId: "a", peerLabel: "b", host })
        link.start()
        link.receive(cbor.encode(batch))
        expect(link.status).toBe("closed")
        expect(link.closeError!.reason._tag).toBe("ProtocolError")
        const exit = yield* Effect.exit(link.whenOpen)
        expect(Exit.isFailure(exit)).toBe(true)
      }
    }).pipe(Effect.provide(ActorSystem.layer()))
  )

  it.effect(
    "casts are acknowledged in bulk: a quarter window for one actor, 64 actors owed, or along with a reply",
    () =>
      Effect.gen(function* () {
        const { client, server, toServer, toClient, pump } = yield* pair()
        type Ref = {
          record: (p: { entry: string }) => Effect.Effect<void>
          history: () => Effect.Effect<ReadonlyArray<string>>
        }
        const spawn = (id: string) =>
          Effect.gen(function* () {
            const spawned = yield* Effect.forkChild(client.spawn(Worker, { id }, false), {
              startImmediately: true
            })
            yield* pump
            return (yield* Fiber.join(spawned)) as unknown as Ref
          })
        /** Delivers the casts to the server and gives the acknowledgements it wrote back. */
        const acks = Effect.gen(function* () {
          yield* settle
          for (const b of toServer.splice(0)) server.receive(b)
          yield* settle
          const frames = toClient.splice(0).flatMap((b) => cbor.decode(b) as Array<Array<any>>)
          for (const f of frames) client.receive(cbor.encode([f]))
          return frames.filter((f) => f[0] === F.CAST_ACK).map((f) => [f[1], f[2]])
        })
        const a = yield* spawn("a")
        for (let i = 0; i < 10; i++) yield* a.record({ entry: `${i}` })
        expect(yield* acks).toEqual([]) // owed, not worth a frame of its own yet
        for (let i = 10; i < F.CAST_WINDOW / 4; i++) yield* a.record({ entry: `${i}` })
        expect(yield* acks).toEqual([["a", F.CAST_WINDOW / 4]])
        const many: Array<Ref> = []
        for (let i = 0; i < 64; i++) many.push(yield* spawn(`m${i}`))
        for (let i = 0; i < 63; i++) yield* many[i]!.record({ entry: "x" })
        expect(yield* acks).toEqual([])
        yield* many[63]!.record({ entry: "x" })
        expect((yield* acks).length).toBe(64)
        for (let i = 0; i < 5; i++) yield* a.record({ entry: "late" })
        const history = yield* Effect.forkChild(a.history(), { startImmediately: true })
        expect(yield* acks).toEqual([["a", 5]]) // along with the reply
        expect((yield* Fiber.join(history)).length).toBe(F.CAST_WINDOW / 4 + 5)
      }).pipe(Effect.provide(env))
  )

  it.effect("of two links to one peer, routed frames take the newer (the older may be half-open)", () =>
    Effect.gen(function* () {
      const system = yield* ActorSystem.ActorSystem
      const context = yield* Effect.context<never>()
      const connect = () => {
        const link = new Link(
          { write: () => {}, close: () => {} },
          { peerLabel: "client", host: { system, behaviours: new Map(), context } }
        )
        link.start()
        link.receive(cbor.encode([[F.HELLO, F.MAGIC, F.VERSION, "client", []]]))
        return link
      }
      const older = connect()
      const newer = connect()
      expect(system.router.route("client")).toBe(newer)
      expect(system.router.route("client/worker-1.0")).toBe(newer)
      newer.fail(ActorError.make(new ActorError.Disconnected({ node: "client", message: "dropped" })))
      expect(system.router.route("client")).toBe(older)
    }).pipe(Effect.provide(env))
  )

  it.effect("closing a link fails what is pending on it with the closing error", () =>
    Effect.gen(function* () {
      const { client, pump } = yield* pair()
      const spawned = yield* Effect.forkChild(client.spawn(Worker, { id: "pending" }, false), {
        startImmediately: true
      })
      yield* pump
      const ref = (yield* Fiber.join(spawned)) as unknown as {
        add: (p: { a: number; b: number }) => Effect.Effect<number>
      }
      const call = yield* Effect.forkChild(ref.add({ a: 1, b: 2 }), { startImmediately: true })
      client.fail(ActorError.make(new ActorError.PeerDied({ node: "server", message: "gone" })))
      const exit = yield* Fiber.await(call)
      expect(Exit.isFailure(exit) && ActorError.isActorError((exit.cause.reasons[0] as any).error)).toBe(true)
      expect(((exit as any).cause.reasons[0].error as ActorError.ActorError).reason._tag).toBe("PeerDied")
    }).pipe(Effect.provide(env))
  )
})
