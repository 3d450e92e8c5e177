/**
 * Hostile input against a real `troupe serve`: each attack gets its documented result (docs/remote.md),
 * and in the same test a legitimate client keeps calling its actor. The raw client below speaks the
 * wire by hand (its own HMAC, its own framing), so it does not share the code it is testing.
 */
import { expect, layer } from "@effect/vitest"
import { Context, Deferred, Effect, Layer, Redacted, type Scope } from "effect"
import { Encoder } from "cbor-x"
import { createHmac, randomBytes } from "node:crypto"
import * as net from "node:net"
import { Actor, type ActorRef } from "troupe"
import { Remote } from "troupe/node"
import { Worker } from "./fixtures/spec-actors.ts"
import { serve } from "./support/serve.ts"

const secret = "s3cret for the security tests"
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true } as any)
const AUTH = 14
const HELLO = 0
const CALL = 2
const CAST = 3
const SPAWN = 10
const REPLY = 4
const VERSION = 6 // the wire version a current peer speaks (frame.ts)
const FAILED = 1
const INSPECT = 28

const prefix = (bytes: Uint8Array): Buffer => {
  const out = Buffer.alloc(4 + bytes.length)
  out.writeUInt32BE(bytes.length, 0)
  Buffer.from(bytes).copy(out, 4)
  return out
}

interface Raw {
  /** Decoded batches received so far. */
  readonly batches: Array<unknown>
  readonly send: (bytes: Uint8Array) => void
  readonly sendBatch: (frames: Array<unknown>) => void
  /** Completes when the server has closed the connection (bounded). */
  readonly closed: Effect.Effect<void>
  readonly isClosed: () => boolean
  /** Waits for the n-th batch (bounded). */
  readonly batch: (n: number) => Effect.Effect<unknown>
  /** Answers the challenge with this secret; returns once the server's proof (or FAILED) arrived. */
  readonly authenticate: (key: string) => Effect.Effect<unknown>
}

class Server extends Context.Service<
  Server,
  { readonly port: number; readonly calc: ActorRef.ActorRef<typeof Worker> }
>()("test/Server") {}

const raw = (port: number): Effect.Effect<Raw, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const socket = net.connect({ host: "127.0.0.1", port })
      const batches: Array<unknown> = []
      const arrived: Array<() => void> = []
      const closed = Deferred.makeUnsafe<void>()
      let pending = Buffer.alloc(0)
      socket.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk])
        while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
          const n = pending.readUInt32BE(0)
          batches.push(cbor.decode(pending.subarray(4, 4 + n)))
          pending = pending.subarray(4 + n)
          for (const cb of arrived.splice(0)) cb()
        }
      })
      socket.on("error", () => {})
      socket.on("close", () => {
        Deferred.doneUnsafe(closed, Effect.void)
        for (const cb of arrived.splice(0)) cb()
      })
      const batch = (n: number) =>
        Effect.callback<unknown>((resume) => {
          const check = () => {
            if (batches.length > n) resume(Effect.succeed(batches[n]))
            else if (socket.destroyed) resume(Effect.succeed(undefined))
            else arrived.push(check)
          }
          check()
        }).pipe(Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.die("no batch came") }))
      const self: Raw = {
        batches,
        send: (bytes) => void socket.write(bytes),
        sendBatch: (frames) => void socket.write(prefix(cbor.encode(frames))),
        closed: Deferred.await(closed).pipe(
          Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.die("the server kept the socket open") })
        ),
        isClosed: () => socket.destroyed,
        batch,
        authenticate: (key) =>
          Effect.gen(function* () {
            const challenge = (yield* batch(0)) as Array<Array<any>>
            const serverNonce: Uint8Array = challenge[0]![2]
            const clientNonce = randomBytes(32)
            const mac = createHmac("sha256", key)
              .update("troupe/1 client")
              .update(serverNonce)
              .update(clientNonce)
              .digest()
            self.sendBatch([[AUTH, 2, clientNonce, mac, randomBytes(16).toString("base64url")]])
            return yield* batch(1)
          })
      }
      return self
    }),
    () => Effect.void
  )

const ServerLive = Layer.effect(
  Server,
  Effect.gen(function* () {
    const served = yield* serve(["--handshake-timeout", "500", "--max-frame", "4096"], undefined, {
      TROUPE_SECRET: secret
    })
    const context = yield* Layer.build(
      Remote.layer({ host: "127.0.0.1", port: served.port, secret: Redacted.make(secret) })
    )
    const calc = yield* Effect.provide(Actor.spawn(Worker, { id: "legit", backend: Remote }), context)
    return { port: served.port, calc }
  })
)

/** The legitimate client still works. */
/** A raw client past the handshake, with a SpecWorker spawned in its session, and that actor's incarnation. */
const rawWithActor = (port: number, id: string) =>
  Effect.gen(function* () {
    const client = yield* raw(port)
    yield* client.authenticate(secret)
    client.sendBatch([[HELLO, "troupe", VERSION, "raw", []]])
    client.sendBatch([[SPAWN, 1, "SpecWorker", id, null, null, false, null, null]])
    const spawned = ((yield* client.batch(3)) as Array<Array<any>>)[0]!
    return { client, incarnation: spawned[3] as number }
  })

const stillServing = Effect.gen(function* () {
  const { calc } = yield* Server
  expect(yield* calc.add({ a: 40, b: 2 })).toBe(42)
})

const failedMessage = (batch: unknown): string | undefined => {
  const frames = batch as Array<Array<unknown>> | undefined
  const f = frames?.[0]
  return f !== undefined && f[0] === FAILED ? String(f[1]) : undefined
}

layer(ServerLive, { timeout: 60_000, excludeTestServices: true })("hostile input against troupe serve", (it) => {
  it.effect("wrong secret: FAILED unauthorized, then closed", () =>
    Effect.gen(function* () {
      const client = yield* raw((yield* Server).port)
      const answer = yield* client.authenticate("not the secret")
      expect(failedMessage(answer)).toContain("unauthorized: wrong or missing secret")
      yield* client.closed
      yield* stillServing
    })
  )

  it.effect("no handshake at all: FAILED when the handshake timeout expires, then closed", () =>
    Effect.gen(function* () {
      const client = yield* raw((yield* Server).port)
      yield* client.closed
      expect(failedMessage(client.batches[1])).toContain("did not finish in time")
      yield* stillServing
    })
  )

  it.effect("a non-handshake frame first: FAILED unauthorized, then closed", () =>
    Effect.gen(function* () {
      const client = yield* raw((yield* Server).port)
      yield* client.batch(0)
      client.sendBatch([[CALL, 1, "legit", 1, "add", { a: 1, b: 2 }]])
      expect(failedMessage(yield* client.batch(1))).toContain("must answer the AUTH challenge")
      yield* client.closed
      yield* stillServing
    })
  )

  it.effect("an oversized declared length: closed before anything is buffered (before and after auth)", () =>
    Effect.gen(function* () {
      const before = yield* raw((yield* Server).port)
      yield* before.batch(0)
      const header = Buffer.alloc(4)
      header.writeUInt32BE(1_000_000, 0)
      before.send(header)
      yield* before.closed
      const after = yield* raw((yield* Server).port)
      yield* after.authenticate(secret)
      header.writeUInt32BE(5000, 0) // over --max-frame 4096
      after.send(header)
      yield* after.closed
      yield* stillServing
    })
  )

  it.effect("a negative (0xFFFFFFFF) or zero length: closed", () =>
    Effect.gen(function* () {
      for (const length of [0xffffffff, 0]) {
        const client = yield* raw((yield* Server).port)
        yield* client.batch(0)
        const header = Buffer.alloc(4)
        header.writeUInt32BE(length, 0)
        client.send(Buffer.concat([header, Buffer.from([1, 2, 3])]))
        yield* client.closed
      }
      yield* stillServing
    })
  )

  it.effect("a truncated frame: the rest never comes, the handshake times out, closed", () =>
    Effect.gen(function* () {
      const client = yield* raw((yield* Server).port)
      yield* client.batch(0)
      const header = Buffer.alloc(4)
      header.writeUInt32BE(200, 0)
      client.send(Buffer.concat([header, randomBytes(50)]))
      yield* client.closed
      yield* stillServing
    })
  )

  it.effect("random bytes: closed, whatever they say", () =>
    Effect.gen(function* () {
      for (let i = 0; i < 20; i++) {
        const client = yield* raw((yield* Server).port)
        yield* client.batch(0)
        client.send(randomBytes(64 + i * 13))
        yield* client.closed
      }
      yield* stillServing
    })
  )

  it.effect("valid CBOR with a malformed envelope: FAILED before auth, ProtocolError after", () =>
    Effect.gen(function* () {
      const before = yield* raw((yield* Server).port)
      yield* before.batch(0)
      before.sendBatch([[AUTH, 2, "not bytes", 5, {}]])
      expect(failedMessage(yield* before.batch(1))).toContain("unauthorized")
      yield* before.closed

      const after = yield* raw((yield* Server).port)
      yield* after.authenticate(secret)
      after.sendBatch([[HELLO, "troupe", VERSION, "raw", []]])
      after.sendBatch([[CALL, "not an id", 1]])
      yield* after.closed
      const failed = after.batches.map(failedMessage).find((m) => m !== undefined)
      expect(failed).toContain("malformed CALL")
      yield* stillServing
    })
  )

  it.effect("__proto__ keys: renamed by the decoder, never a prototype; the request is answered", () =>
    Effect.gen(function* () {
      const before = yield* raw((yield* Server).port)
      yield* before.batch(0)
      // an AUTH answer that is a map with a __proto__ key instead of an array
      const key = Buffer.from("__proto__")
      const evil = Buffer.concat([
        Buffer.from([0x81, 0xa1, 0x60 + key.length]),
        key,
        Buffer.from([0xa1, 0x61, 0x61, 0x01])
      ])
      before.send(prefix(evil))
      expect(failedMessage(yield* before.batch(1))).toContain("unauthorized")
      yield* before.closed

      const { client: after } = yield* rawWithActor((yield* Server).port, "victim")
      const spawnReply = (after.batches[3] as Array<Array<any>>)[0]!
      expect(spawnReply.slice(0, 3)).toEqual([REPLY, 1, 0])
      // a payload whose own "__proto__" key would, if assigned naively, give it the fields a and b
      const payload: Record<string, unknown> = {}
      Object.defineProperty(payload, "__proto__", { value: { a: 1, b: 2 }, enumerable: true })
      after.sendBatch([[CALL, 2, "victim", spawnReply[3], "add", payload]])
      const reply = ((yield* after.batch(4)) as Array<Array<any>>)[0]!
      expect(reply[0]).toBe(REPLY)
      expect(reply[3].reason._tag).toBe("DecodeError")
      expect(({} as Record<string, unknown>)["a"]).toBeUndefined()
      expect(after.isClosed()).toBe(false)
      yield* stillServing
    })
  )

  it.effect("an unknown actor kind: REPLY UnknownProtocol, the connection stays open", () =>
    Effect.gen(function* () {
      const client = yield* raw((yield* Server).port)
      yield* client.authenticate(secret)
      client.sendBatch([[HELLO, "troupe", VERSION, "raw", []]])
      client.sendBatch([[SPAWN, 7, "EvalAnything", "x", null, null, false, null, null]])
      const reply = ((yield* client.batch(3)) as Array<Array<any>>)[0]!
      expect(reply[0]).toBe(REPLY)
      expect(reply[3].reason._tag).toBe("UnknownProtocol")
      expect(client.isClosed()).toBe(false)
      yield* stillServing
    })
  )

  it.effect("a CALL's span: a forged one only parents that call's span; a malformed one closes the link", () =>
    Effect.gen(function* () {
      const { client, incarnation } = yield* rawWithActor((yield* Server).port, "spanned")
      const span = ["f".repeat(32), "e".repeat(16), true]
      client.sendBatch([[CALL, 2, "spanned", incarnation, "add", { a: 1, b: 2 }, null, span]])
      expect(((yield* client.batch(4)) as Array<Array<any>>)[0]).toEqual([REPLY, 2, 0, 3])
      client.sendBatch([[CAST, "spanned", incarnation, "record", { entry: "x" }, null, span]])
      client.sendBatch([[CALL, 3, "spanned", incarnation, "add", { a: 1, b: 2 }, null, ["x".repeat(65), "y", true]]])
      yield* client.closed
      expect(client.batches.map(failedMessage).find((m) => m !== undefined)).toContain("malformed CALL")
      yield* stillServing
    })
  )

  it.effect("a CALL's chain: forged tokens change nothing but that call; a malformed chain closes the link", () =>
    Effect.gen(function* () {
      const { client, incarnation } = yield* rawWithActor((yield* Server).port, "chained")
      client.sendBatch([[CALL, 2, "chained", incarnation, "add", { a: 1, b: 2 }, ["forged", "x".repeat(32)]]])
      expect(((yield* client.batch(4)) as Array<Array<any>>)[0]).toEqual([REPLY, 2, 0, 3])
      client.sendBatch([[CALL, 3, "chained", incarnation, "add", { a: 1, b: 2 }, Array(33).fill("t")]])
      yield* client.closed
      expect(client.batches.map(failedMessage).find((m) => m !== undefined)).toContain("malformed CALL")
      yield* stillServing
    })
  )

  it.effect("INSPECT reports the client's own session only; a hop count past the limit closes the link", () =>
    Effect.gen(function* () {
      const { client } = yield* rawWithActor((yield* Server).port, "mine")
      client.sendBatch([[INSPECT, 2, 8, 1000]])
      const reply = ((yield* client.batch(4)) as Array<Array<any>>)[0]!
      expect(reply.slice(0, 3)).toEqual([REPLY, 2, 0])
      // one node (this session), with this client's actor and not the legitimate client's "legit"
      expect((reply[3] as Array<{ actors: Array<{ id: string }> }>).map((r) => r.actors.map((a) => a.id))).toEqual([
        ["mine"]
      ])
      client.sendBatch([[INSPECT, 3, 1_000, 1000]])
      yield* client.closed
      expect(client.batches.map(failedMessage).find((m) => m !== undefined)).toContain("malformed INSPECT")
      yield* stillServing
    })
  )

  it.effect("a handshake that never finishes (authenticated, no HELLO): closed at the timeout", () =>
    Effect.gen(function* () {
      const client = yield* raw((yield* Server).port)
      const proof = (yield* client.authenticate(secret)) as Array<Array<unknown>>
      expect(proof[0]![0]).toBe(AUTH)
      yield* client.closed
      yield* stillServing
    })
  )
})
