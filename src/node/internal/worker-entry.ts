/**
 * Entry point of a Troupe worker thread: serve the host module named in workerData to the parent,
 * over effect/workers' runner (postMessage of CBOR batches, transferred, never cloned).
 */
import { NodeWorkerRunner } from "@effect/platform-node"
import { Effect } from "effect"
import { WorkerRunner } from "effect/workers"
import { workerData } from "node:worker_threads"
import { serveParent } from "./host.ts"

const { nodeId, href } = workerData as { readonly nodeId: string; readonly href: string }

const program = Effect.gen(function* () {
  const runner = yield* (yield* WorkerRunner.WorkerRunnerPlatform).start<Uint8Array, Uint8Array>()
  yield* serveParent({
    nodeId,
    href,
    transport: {
      write: (bytes) => runner.sendUnsafe(0, bytes, [bytes.buffer]),
      close: () => {}
    },
    run: (receive) => runner.run((_port, bytes) => receive(bytes))
  })
})

Effect.runFork(program.pipe(Effect.scoped, Effect.provide(NodeWorkerRunner.layer))).addObserver(() => process.exit(0))
