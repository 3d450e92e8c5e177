/**
 * Tracing across actors: a call, cast or stream sent from inside a span runs its handler in a child span
 * on the actor's node (recorded there by that node's own tracer), in-process, in a worker, a child and
 * on a TCP host, and through a relay; a message sent outside any span makes none.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { Actor, type ActorError, type ActorRef, type Protocol } from "troupe"
import { Hop, HopLive, Traced, TracedLive } from "./fixtures/traced-actors.ts"
import { child, inProcess, layerForSides, remote, type Side, worker } from "./support/sides.ts"

const host = new URL("./fixtures/spec-host.ts", import.meta.url)
const sides = [inProcess, worker, child, remote]

const TestLayer = layerForSides({ host, behaviours: Layer.mergeAll(TracedLive, HopLive), secret: "traced", sides })

let ids = 0
const on = <P extends Protocol.Protocol.Any>(side: Side, protocol: P) =>
  Actor.spawn(protocol, { id: `traced-${side.name}-${++ids}`, backend: side.backend }) as Effect.Effect<
    ActorRef.ActorRef<P>,
    ActorError.ActorError
  >

layer(TestLayer, { excludeTestServices: true, timeout: 60_000 })("tracing", (it) => {
  for (const side of sides) {
    describe(side.name, () => {
      it.effect("a call, a cast and a stream from inside a span run their handlers in child spans", () =>
        Effect.gen(function* () {
          const ref = yield* on(side, Traced)
          const root = yield* Effect.gen(function* () {
            expect(yield* ref.work({ n: 1 })).toBe(2)
            yield* ref.note({ n: 2 })
            expect(yield* ref.count({ n: 3 }).pipe(Stream.runCollect)).toEqual([1, 2, 3])
            return yield* Effect.currentSpan
          }).pipe(Effect.withSpan("checkout"))
          // the cast and the stream's handler were handled before this call (one mailbox, in order)
          const spans = yield* ref.spans({ traceId: root.traceId })
          expect(spans.map((s) => [s.name, s.kind, s.parent, s.actor])).toEqual([
            ["Traced.work", "server", root.spanId, ref.id],
            ["Traced.note", "consumer", root.spanId, ref.id],
            ["Traced.count", "server", root.spanId, ref.id]
          ])
        })
      )

      it.effect("a message sent outside any span, or with tracing turned off, makes no span", () =>
        Effect.gen(function* () {
          const ref = yield* on(side, Traced)
          const before = yield* ref.total()
          yield* ref.work({ n: 1 })
          yield* ref.note({ n: 1 })
          yield* ref.count({ n: 2 }).pipe(Stream.runDrain)
          yield* ref.work({ n: 1 }).pipe(Effect.withTracerEnabled(false), Effect.withSpan("untraced"))
          expect(yield* ref.total()).toBe(before)
        })
      )
    })
  }

  it.effect("the trace goes on from a handler through the hub: worker to child process", () =>
    Effect.gen(function* () {
      const hop = yield* on(worker, Hop)
      const target = yield* on(child, Traced)
      const root = yield* Effect.gen(function* () {
        expect(yield* hop.forward({ to: target, n: 41 })).toBe(42)
        return yield* Effect.currentSpan
      }).pipe(Effect.withSpan("order"))
      // Hop.forward's span was recorded in the worker, Traced.work's in the child: ask each node
      const probe = yield* on(worker, Traced)
      const [forward] = yield* probe.spans({ traceId: root.traceId })
      expect([forward?.name, forward?.parent]).toEqual(["Hop.forward", root.spanId])
      const [work] = yield* target.spans({ traceId: root.traceId })
      expect([work?.name, work?.parent]).toEqual(["Traced.work", forward?.spanId])
    })
  )

  it.effect("a cast and a stream relayed through the hub carry the trace too", () =>
    Effect.gen(function* () {
      const hop = yield* on(worker, Hop)
      const target = yield* on(child, Traced)
      const root = yield* Effect.gen(function* () {
        yield* hop.forwardNote({ to: target, n: 1 })
        expect(yield* hop.forwardCount({ to: target, n: 2 })).toEqual([1, 2])
        return yield* Effect.currentSpan
      }).pipe(Effect.withSpan("relayed"))
      const probe = yield* on(worker, Traced)
      const hops = yield* probe.spans({ traceId: root.traceId })
      const there = yield* target.spans({ traceId: root.traceId })
      const spanOf = (name: string) => hops.find((s) => s.name === name)?.spanId
      expect(there.map((s) => [s.name, s.parent])).toEqual([
        ["Traced.note", spanOf("Hop.forwardNote")],
        ["Traced.count", spanOf("Hop.forwardCount")]
      ])
      expect(spanOf("Hop.forwardNote")).toBeDefined()
    })
  )
})
