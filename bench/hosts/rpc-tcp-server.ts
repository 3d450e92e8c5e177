/**
 * The effect/rpc peer of tcp.bench.ts: a child process (started with `fork()`, the port reported over
 * IPC) running `RpcServer.layer(AdderRpcs)` over `RpcServer.layerProtocolSocketServer` and
 * `NodeSocketServer.layer` on 127.0.0.1, port 0. `process.argv[2]` picks the configuration:
 *   - "defaults": `RpcSerialization.layerNdjson`, no options;
 *   - "schema-binary": `RpcSerialization.layerSchemaBinary()`, `disableTracing: true`,
 *     `concurrency: "unbounded"` (4.1's default already), and Nagle off on accepted sockets
 *     (`noDelay: true`, a `net.createServer` option that `NodeSocketServer.layer` passes through);
 *   - "cbor": as "schema-binary", with the length-prefixed CBOR serialization of rpc-cbor.ts.
 */
import { NodeRuntime, NodeSocketServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { RpcServer } from "effect/rpc"
import { SocketServer } from "effect/socket"
import { type RpcVariant, serializationFor } from "./rpc-cbor.ts"
import { AdderHandlers, AdderRpcs } from "./rpc-group.ts"

const variant = process.argv[2] as RpcVariant
if (variant !== "defaults" && variant !== "schema-binary" && variant !== "cbor") {
  throw new Error(`unknown effect/rpc variant ${String(variant)}`)
}
const tuned = variant !== "defaults"
const serialization = serializationFor(variant)

const reportPort = Layer.effectDiscard(
  Effect.gen(function* () {
    const server = yield* SocketServer.SocketServer
    const address = server.address
    process.send!({ port: address._tag === "UnixPathAddress" ? 0 : address.port })
  })
)

// the parent's IPC channel closing is the signal to stop
process.on("disconnect", () => process.exit(0))

RpcServer.layer(AdderRpcs, tuned ? { concurrency: "unbounded", disableTracing: true } : undefined).pipe(
  Layer.provide(AdderHandlers),
  Layer.provide(RpcServer.layerProtocolSocketServer),
  Layer.merge(reportPort),
  Layer.provide(NodeSocketServer.layer({ port: 0, host: "127.0.0.1", ...(tuned ? { noDelay: true } : {}) })),
  Layer.provide(serialization),
  Layer.launch,
  NodeRuntime.runMain
)
