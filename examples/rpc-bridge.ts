/**
 * Serving an actor with effect/rpc: a Calculator runs in a worker thread; effect/rpc's own RpcServer
 * serves it over TCP on 127.0.0.1, and an effect/rpc client, which knows nothing of Troupe, calls it.
 * `RpcBridge.toRpcGroup` turns the protocol into an RpcGroup; `RpcBridge.layerHandlers` forwards each
 * rpc to the actor.
 * Run: npx tsx examples/rpc-bridge.ts
 */
import { NodeSocket, NodeSocketServer } from "@effect/platform-node"
import { Effect, Layer, Stream } from "effect"
import { RpcClient, RpcSerialization, RpcServer } from "effect/rpc"
import { SocketServer } from "effect/socket"
import { Actor } from "troupe"
import { Workers } from "troupe/node"
import * as RpcBridge from "troupe/rpc"
import { Calculator } from "./hosts/calculator.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/calculator.ts", import.meta.url)
const CalculatorRpcs = RpcBridge.toRpcGroup(Calculator)

// the server side: an actor in a worker behind an effect/rpc server on a TCP port
const ServerLive = RpcServer.layer(CalculatorRpcs).pipe(
  Layer.provide(RpcBridge.layerHandlers(Calculator, Actor.spawn(Calculator, { id: "calc", backend: Workers }))),
  Layer.provide(RpcServer.layerProtocolSocketServer),
  Layer.provideMerge(NodeSocketServer.layer({ port: 0, host: "127.0.0.1" })),
  Layer.provide(RpcSerialization.layerNdjson),
  Layer.provide(Workers.layer({ host }))
)

const program = Effect.gen(function* () {
  const address = (yield* SocketServer.SocketServer).address
  const port = address._tag === "UnixPathAddress" ? 0 : address.port
  console.log(`  effect/rpc server on 127.0.0.1:${port}`)
  // the client side: plain effect/rpc over a socket
  const connection = yield* Layer.build(
    RpcClient.layerProtocolSocket().pipe(
      Layer.provide(NodeSocket.layerNet({ host: "127.0.0.1", port })),
      Layer.provide(RpcSerialization.layerNdjson)
    )
  )
  const calc = yield* RpcClient.make(CalculatorRpcs).pipe(Effect.provideContext(connection))

  yield* check("add over effect/rpc", yield* calc.add({ a: 20, b: 22 }), 42)
  const error = yield* Effect.flip(calc.divide({ a: 1, b: 0 }))
  yield* check("the declared error arrives typed", error._tag === "DivideByZero" && error.dividend, 1)
  yield* check("a stream", yield* Stream.runCollect(calc.countdown({ from: 2 })), [2, 1, 0])
  yield* check("the actor runs in the worker", (yield* calc.whereAmI()).startsWith("calc in process"), true)
})

run(program.pipe(Effect.scoped, Effect.provide(ServerLive)))
