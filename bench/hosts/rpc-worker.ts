/**
 * The effect/rpc peer's worker: `RpcServer.layer` over `RpcServer.layerProtocolWorkerRunner` and
 * `NodeWorkerRunner.layer`, as effect's docs wire it. `workerData.tuned` selects the server options:
 * false = the defaults; true = `concurrency: "unbounded"` (which is also 4.1's default) and
 * `disableTracing: true` (no span per request).
 */
import { NodeRuntime, NodeWorkerRunner } from "@effect/platform-node"
import { Layer } from "effect"
import { RpcServer } from "effect/rpc"
import { workerData } from "node:worker_threads"
import { AdderHandlers, AdderRpcs } from "./rpc-group.ts"

const tuned = (workerData as { readonly tuned?: boolean } | null)?.tuned === true

RpcServer.layer(AdderRpcs, tuned ? { concurrency: "unbounded", disableTracing: true } : undefined).pipe(
  Layer.provide(AdderHandlers),
  Layer.provide(RpcServer.layerProtocolWorkerRunner),
  Layer.provide(NodeWorkerRunner.layer),
  Layer.launch,
  NodeRuntime.runMain
)
