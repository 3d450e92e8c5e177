/**
 * Entry point of a Troupe child process: serve the host module named in argv to the parent over the
 * IPC channel (advanced serialization, one CBOR batch per message). When the parent goes away, the
 * channel disconnects and the child exits, so no orphan outlives its parent.
 */
import { NodeWorkerRunner } from "@effect/platform-node"
import { Effect } from "effect"
import { WorkerRunner } from "effect/workers"
import { serveParent } from "./host.ts"

const [nodeId, href] = process.argv.slice(2) as [string, string]

process.on("disconnect", () => process.exit(0))

const program = Effect.gen(function* () {
  const runner = yield* (yield* WorkerRunner.WorkerRunnerPlatform).start<Uint8Array, Uint8Array>()
  yield* serveParent({
    nodeId,
    href,
    transport: { write: (bytes) => runner.sendUnsafe(0, bytes), close: () => {} },
    run: (receive) => runner.run((_port, bytes) => receive(bytes))
  })
})

Effect.runFork(program.pipe(Effect.scoped, Effect.provide(NodeWorkerRunner.layer))).addObserver(() => {
  // IPC sends are asynchronous: give the last frames (a FAILED, say) a moment to leave before exiting
  setTimeout(() => process.exit(0), 100)
})
