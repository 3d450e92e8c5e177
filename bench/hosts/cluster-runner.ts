/**
 * The effect/cluster runner of cluster.bench.ts: a child process (started with `fork()`, its port
 * reported over IPC) hosting both entities of hosts/cluster-entities.ts on 127.0.0.1 with in-memory
 * storage. It is the only runner it knows of, so it takes every shard; the parent, a client-only
 * Sharding, sends every message over its socket. `process.argv[2]` picks the configuration:
 *   - "stock": `NodeClusterSocket.layer({ storage: "local" })`, as shipped;
 *   - "nagle-off": the same pieces composed by hand, with `noDelay: true` on the sockets it accepts
 *     (`NodeClusterSocket.layer` listens with the runner address only, so Nagle stays on there).
 */
import { NodeClusterSocket, NodeRuntime, NodeSocketServer } from "@effect/platform-node"
import { Effect, Layer, Option, References } from "effect"
import {
  MessageStorage,
  RunnerAddress,
  RunnerHealth,
  Runners,
  RunnerStorage,
  ShardingConfig,
  SocketRunner
} from "effect/cluster"
import { RpcSerialization } from "effect/rpc"
import { createServer } from "node:net"
import { EntitiesLive } from "./cluster-entities.ts"

const variant = process.argv[2]
if (variant !== "stock" && variant !== "nagle-off") throw new Error(`unknown runner variant ${String(variant)}`)
const host = "127.0.0.1"

// the runner advertises its address, so it needs a real port before it starts: bind 0, read it, release it
const port = await new Promise<number>((resolve, reject) => {
  const server = createServer()
  server.once("error", reject)
  server.listen(0, host, () => {
    const { port } = server.address() as { port: number }
    server.close(() => resolve(port))
  })
})
const runnerAddress = Option.some(RunnerAddress.make(host, port))

// NodeClusterSocket.layer's composition for storage "local" and binary serialization, but listening
// with noDelay
const nagleOff = SocketRunner.layer.pipe(
  Layer.provide([NodeSocketServer.layer({ host, port, noDelay: true }), NodeClusterSocket.layerClientProtocol]),
  Layer.provide(
    RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(NodeClusterSocket.layerClientProtocol))
  ),
  Layer.provideMerge(MessageStorage.layerNoop),
  Layer.provide(RunnerStorage.layerMemory),
  Layer.provide(ShardingConfig.layer({ runnerAddress })),
  Layer.provide(RpcSerialization.layerSchemaBinary())
)
const runner =
  variant === "stock" ? NodeClusterSocket.layer({ storage: "local", shardingConfig: { runnerAddress } }) : nagleOff

const reportPort = Layer.effectDiscard(Effect.sync(() => process.send!({ port })))

// the parent's IPC channel closing is the signal to stop
process.on("disconnect", () => process.exit(0))

EntitiesLive.pipe(
  Layer.merge(reportPort),
  Layer.provide(runner),
  Layer.provide(Layer.succeed(References.MinimumLogLevel, "Warn")),
  Layer.launch,
  NodeRuntime.runMain
)
