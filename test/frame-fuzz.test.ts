/**
 * A bounded, seeded fuzz test of the frame decoder: thousands of random and mutated batches fed to a
 * serving link. None may throw; each bad batch must close the link with a typed ProtocolError (or,
 * for a frame whose envelope is fine but whose payload is not, answer that request with DecodeError),
 * and nothing may leak onto Object.prototype.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { Actor, ActorError, ActorSystem, Behaviour } from "troupe"
import { cbor } from "../src/internal/codec.ts"
import * as F from "../src/internal/wire/frame.ts"
import { encodeFrame, FrameReader } from "../src/internal/wire/framing.ts"
import { Link } from "../src/internal/wire/link.ts"
import { Worker, WorkerLive } from "./fixtures/spec-actors.ts"

/** mulberry32: a small seeded PRNG, so that a failure can be replayed. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const setup = Effect.gen(function* () {
  const system = yield* ActorSystem.ActorSystem
  const context = yield* Effect.context<never>()
  const impl = Context.get(context as Context.Context<Behaviour.Behaviour<typeof Worker>>, Behaviour.key(Worker))
  yield* Actor.spawn(Worker, { id: "target" })
  const incarnation = system.cellOf("target")!.incarnation
  const host = { system, behaviours: new Map([[Worker.name, impl]]), context }
  const makeLink = (handshake: boolean) => {
    const written: Array<Uint8Array> = []
    const link = new Link(
      { write: (b) => void written.push(b), close: () => {} },
      { nodeId: "fuzz", peerLabel: "peer", host }
    )
    link.start()
    if (handshake) link.receive(cbor.encode([[F.HELLO, F.MAGIC, F.VERSION, "peer", []]]))
    return { link, written }
  }
  return { makeLink, incarnation }
})

const env = Layer.merge(WorkerLive, ActorSystem.layer())

const validBatch = (incarnation: number) =>
  cbor.encode([
    [F.CALL, 1, "target", incarnation, "add", { a: 1, b: 2 }],
    [F.CAST, "target", incarnation, "record", { entry: "x" }],
    [F.STREAM, 2, "target", incarnation, "countdown", { from: 3 }, 16],
    [F.DEMAND, 2, 8],
    [F.INTERRUPT, 2],
    [F.LOOKUP, 3, "SpecWorker", "target"],
    [F.SPAWN, 4, "SpecWorker", "fuzzed", null, null, true, null, 60_000]
  ])

/** CBOR byte sequences that attack the decoder itself. */
const crafted = (): Array<Uint8Array> => {
  const deep = new Uint8Array(100_000).fill(0x81) // 100k nested one-element arrays
  const protoKey = Buffer.from("__proto__")
  const protoMap = Buffer.concat([
    Buffer.from([0x81, 0x86, F.CALL, 0x01, 0x66]),
    Buffer.from("target"),
    Buffer.from([0x01, 0x63]),
    Buffer.from("add"),
    Buffer.from([0xa1, 0x60 + protoKey.length]),
    protoKey,
    Buffer.from([0xa2, 0x61, 0x61, 0x01, 0x61, 0x62, 0x02])
  ])
  return [
    new Uint8Array([]),
    deep,
    new Uint8Array([0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // array of 2^64-1 elements
    new Uint8Array([0x9a, 0xff, 0xff, 0xff, 0xff]), // array of 2^32-1 elements
    new Uint8Array([0x5a, 0x7f, 0xff, 0xff, 0xff, 0x00]), // byte string of 2 GB, one byte present
    new Uint8Array([0x7b, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00]), // text of 2^40 bytes
    new Uint8Array([0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // map of 2^64-1 pairs
    new Uint8Array([0xd9, 0xd9, 0xf7, 0x80]), // self-described CBOR tag around an empty array
    new Uint8Array([0xc1, 0xfb, 0x7f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]), // date tag of +Infinity
    protoMap,
    cbor.encode({ not: "an array" }),
    cbor.encode([[]]),
    cbor.encode([[999]]),
    cbor.encode([["CALL"]]),
    cbor.encode([[F.CALL, -1, "target", 1, "add", {}]]),
    cbor.encode([[F.CALL, 1.5, "target", 1, "add", {}]]),
    cbor.encode([[F.CALL, 1, 42, 1, "add", {}]]),
    cbor.encode([[F.CALL, 1, "target", 1, "add"]]),
    cbor.encode([[F.CALL, 1, "target", 1, "add", {}, "extra"]]),
    cbor.encode([[F.SPAWN, 1, "SpecWorker", "x", -5, null, false, null, null]]),
    cbor.encode([[F.SPAWN, 1, "SpecWorker", "x", null, "explode", false, null, null]]),
    cbor.encode([[F.SPAWN, 1, "SpecWorker", "x", null, null, false, null, -1]]),
    cbor.encode([[F.SPAWN, 1, "SpecWorker", "x", null, null, false, null, "soon"]]),
    cbor.encode([[F.SPAWN, 1, "SpecWorker", "x", null, null, false, null]]),
    cbor.encode([[F.HELLO, F.MAGIC, F.VERSION, "again", []]]),
    cbor.encode([[F.REPLY, 77, F.OK, 1]]),
    cbor.encode([[F.REPLY, 1, 9, null]]),
    cbor.encode([[F.DEMAND, 1, Number.MAX_SAFE_INTEGER]])
  ]
}

const mutate = (bytes: Uint8Array, random: () => number): Uint8Array => {
  const out = Array.from(bytes)
  const edits = 1 + Math.floor(random() * 4)
  for (let e = 0; e < edits; e++) {
    const kind = random()
    const at = Math.floor(random() * (out.length + 1))
    if (kind < 0.4 && out.length > 0) out[at % out.length] = Math.floor(random() * 256)
    else if (kind < 0.6) out.splice(at, 0, Math.floor(random() * 256))
    else if (kind < 0.8 && out.length > 0) out.splice(at % out.length, 1)
    else out.length = Math.min(out.length, at)
  }
  return new Uint8Array(out)
}

const typedCloseReasons = new Set(["ProtocolError", "VersionMismatch"])

describe("frame decoder fuzz", () => {
  it.effect("random, mutated and crafted batches: no throw, a typed error for each bad one", () =>
    Effect.gen(function* () {
      const { makeLink, incarnation } = yield* setup
      const random = prng(20261120)
      const valid = validBatch(incarnation)
      const inputs: Array<{ bytes: Uint8Array; handshake: boolean }> = []
      for (const bytes of crafted()) {
        inputs.push({ bytes, handshake: true }, { bytes, handshake: false })
      }
      for (let i = 0; i < 2000; i++) {
        const length = Math.floor(random() * 200)
        const bytes = new Uint8Array(length)
        for (let j = 0; j < length; j++) bytes[j] = Math.floor(random() * 256)
        inputs.push({ bytes, handshake: random() < 0.7 })
      }
      for (let i = 0; i < 3000; i++) inputs.push({ bytes: mutate(valid, random), handshake: true })

      let closed = 0
      let open = 0
      for (const { bytes, handshake } of inputs) {
        const { link } = makeLink(handshake)
        expect(() => link.receive(bytes)).not.toThrow()
        if (link.status === "closed") {
          closed++
          expect(ActorError.isActorError(link.closeError)).toBe(true)
          expect(typedCloseReasons.has(link.closeError!.reason._tag)).toBe(true)
        } else {
          open++
        }
      }
      // every crafted and almost every random input is bad; some mutations stay valid CBOR frames
      expect(closed).toBeGreaterThan(inputs.length / 2)
      expect(open).toBeGreaterThan(0)
      expect(Object.prototype).not.toHaveProperty("a")
      expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain("__proto_")
      // the node still serves: a clean link calls the actor that the fuzzing targeted
      const { link, written } = makeLink(true)
      link.receive(cbor.encode([[F.CALL, 1, "target", incarnation, "add", { a: 40, b: 2 }]]))
      yield* Effect.promise(() => new Promise<void>((resolve) => queueMicrotask(resolve)))
      const replies = written.map((w) => cbor.decode(w) as Array<Array<unknown>>).flat()
      expect(replies).toContainEqual([F.REPLY, 1, F.OK, 42])
    }).pipe(Effect.provide(env))
  )

  it.effect("a well-formed frame with a bad payload is answered with DecodeError; the link stays open", () =>
    Effect.gen(function* () {
      const { makeLink, incarnation } = yield* setup
      const random = prng(7)
      const payloads: Array<unknown> = [
        null,
        "text",
        [],
        { a: "1", b: 2 },
        { a: 1 },
        { __proto__: { a: 1, b: 2 } },
        { a: Number.NaN, b: new Uint8Array(3) }
      ]
      for (let i = 0; i < 200; i++) payloads.push({ a: random() < 0.5 ? "x" : {}, b: [random()] })
      for (const payload of payloads) {
        const { link, written } = makeLink(true)
        link.receive(cbor.encode([[F.CALL, 9, "target", incarnation, "add", payload]]))
        expect(link.status).toBe("open")
        yield* Effect.promise(() => new Promise<void>((resolve) => queueMicrotask(resolve)))
        const frames = written.map((w) => cbor.decode(w) as Array<Array<any>>).flat()
        const reply = frames.find((f) => f[0] === F.REPLY && f[1] === 9)!
        if (reply[2] === F.OK) continue // NaN is a number: a valid payload
        expect(reply[2]).toBe(F.ACTOR_ERROR)
        expect(reply[3].reason._tag).toBe("DecodeError")
      }
    }).pipe(Effect.provide(env))
  )
})

describe("length-prefixed framing", () => {
  it("reassembles batches however the stream is cut: byte by byte, across chunks, several per chunk", () => {
    const random = prng(7)
    const batches = Array.from({ length: 100 }, (_, i) => {
      const n = 1 + Math.floor(random() * (i % 10 === 0 ? 20_000 : 300))
      return Uint8Array.from({ length: n }, () => Math.floor(random() * 256))
    })
    const stream = Buffer.concat(batches.map((b) => encodeFrame(b)))
    for (const cut of [1, 3, 4096, 65536, "random"] as const) {
      const reader = new FrameReader()
      const out: Array<Uint8Array> = []
      for (let at = 0; at < stream.length;) {
        const k = cut === "random" ? 1 + Math.floor(random() * 100_000) : cut
        const got = reader.push(stream.subarray(at, at + k))
        if (typeof got === "string") throw new Error(got)
        // a batch may be a view into a chunk: keep a copy, as the link is done with it after receive
        for (const batch of got) out.push(batch.slice())
        at += k
      }
      expect(out.length).toBe(batches.length)
      expect(out.every((b, i) => Buffer.from(b).equals(batches[i]!))).toBe(true)
      expect(reader.buffered).toBe(0)
    }
  })

  it("refuses a declared length over the limit, and a zero length, before buffering the rest", () => {
    const header = (n: number) => Uint8Array.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
    expect(new FrameReader(1024).push(header(1025))).toBe("a frame of 1025 bytes exceeds the limit of 1024")
    expect(new FrameReader(1024).push(header(0))).toBe("a zero-length frame")
    const partial = new FrameReader(1024)
    expect(partial.push(header(1024).subarray(0, 2))).toEqual([])
    expect(partial.push(header(1024).subarray(2))).toEqual([])
    expect(partial.buffered).toBe(0)
  })
})
