/**
 * The effect/rpc bridge: a Calculator actor running in a worker thread, served by effect/rpc's own
 * RpcServer over a TCP socket on 127.0.0.1, and called by effect/rpc's RpcClient, which knows nothing
 * of Troupe: calls, the declared error, ActorError, a cast, and a stream the client leaves early.
 */
import { NodeSocket, NodeSocketServer } from "@effect/platform-node"
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { RpcClient, RpcSerialization, RpcServer } from "effect/rpc"
import { SocketServer } from "effect/socket"
import { Actor, ActorSystem } from "troupe"
import { Workers } from "troupe/node"
import * as RpcBridge from "troupe/rpc"
import { Calculator } from "./fixtures/calculator.ts"

const host = new URL("./fixtures/host.ts", import.meta.url)
const CalculatorRpcs = RpcBridge.toRpcGroup(Calculator)

/** The server: the rpc group's handlers forward to a Calculator spawned on a worker. */
const server = RpcServer.layer(CalculatorRpcs).pipe(
  Layer.provide(RpcBridge.layerHandlers(Calculator, Actor.spawn(Calculator, { id: "served", backend: Workers }))),
  Layer.provide(RpcServer.layerProtocolSocketServer),
  Layer.provideMerge(NodeSocketServer.layer({ port: 0, host: "127.0.0.1" })),
  Layer.provide(RpcSerialization.layerNdjson),
  Layer.provide(Workers.layer({ host })),
  Layer.provide(ActorSystem.layer())
)

/** A client over its own socket to the server's port. */
const client = Effect.gen(function* () {
  const address = (yield* SocketServer.SocketServer).address
  assert(address._tag !== "UnixPathAddress")
  const protocol = RpcClient.layerProtocolSocket().pipe(
    Layer.provide(NodeSocket.layerNet({ host: "127.0.0.1", port: address.port })),
    Layer.provide(RpcSerialization.layerNdjson)
  )
  // built in the test's scope: the connection lives as long as the client
  const context = yield* Layer.build(protocol)
  return yield* RpcClient.make(CalculatorRpcs).pipe(Effect.provideContext(context))
})

describe("RpcBridge", () => {
  it.live("an actor in a worker answers effect/rpc calls over TCP, errors typed", () =>
    Effect.gen(function* () {
      const calc = yield* client
      expect(yield* calc.add({ a: 1, b: 2 })).toBe(3)
      expect(yield* calc.divide({ a: 9, b: 3 })).toBe(3)
      const declared = yield* Effect.flip(calc.divide({ a: 7, b: 0 }))
      assert(declared._tag === "DivideByZero")
      expect(declared.dividend).toBe(7)
      const defect = yield* Effect.flip(calc.crash({ message: "boom" }))
      assert(defect._tag === "ActorError")
      assert(defect.reason._tag === "Defect")
      expect(defect.reason.message).toBe("boom")
      yield* calc.record({ entry: "by rpc" })
      expect(yield* calc.history()).toEqual(["1 + 2", "9 / 3", "by rpc"])
      expect(yield* Stream.runCollect(calc.countdown({ from: 3 }))).toEqual([3, 2, 1, 0])
      // a client that leaves a stream early ends it; the actor goes on serving
      expect(yield* Stream.runCollect(Stream.take(calc.countdown({ from: 1_000_000 }), 2))).toEqual([
        1_000_000, 999_999
      ])
      yield* calc.reset()
      expect(yield* calc.history()).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(server))
  )

  it("the group has one rpc per method, with the method's Schemas", () => {
    expect([...CalculatorRpcs.requests.keys()].sort()).toEqual(
      ["add", "countdown", "crash", "divide", "history", "record", "reset"].sort()
    )
    expect(RpcBridge.toRpcGroup(Calculator)).toBe(CalculatorRpcs)
  })
})
