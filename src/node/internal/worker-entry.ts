/**
 * Entry point of a Troupe worker thread: serve the host module named in workerData to the parent.
 * Batches travel as transferred ArrayBuffers over the worker's own port (see pool.ts for why this is
 * node's API and not effect/workers).
 */
import { Effect } from "effect"
import { parentPort, workerData } from "node:worker_threads"
import { serveParent } from "./host.ts"

const { nodeId, href } = workerData as { readonly nodeId: string; readonly href: string }
const port = parentPort!

const program = serveParent({
  nodeId,
  href,
  transport: {
    write: (bytes) => {
      const copy = bytes.slice()
      port.postMessage(copy, [copy.buffer])
    },
    close: () => {}
  },
  listen: (receive) => {
    port.on("message", receive)
  }
})

Effect.runFork(Effect.scoped(program)).addObserver(() => process.exit(0))
