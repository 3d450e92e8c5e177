/**
 * Entry point of a Troupe worker thread: serve the host module named in workerData to the parent.
 * Batches travel as transferred ArrayBuffers over a MessagePort of its own (see pool.ts for why this
 * is node's API and not effect/workers); the port is polled for a while after each message (handles.ts).
 */
import { Effect } from "effect"
import { type MessagePort, workerData } from "node:worker_threads"
import { postBatch, spinning } from "./handles.ts"
import { serveParent } from "./host.ts"

const { nodeId, href, port, spin } = workerData as {
  readonly nodeId: string
  readonly href: string
  readonly port: MessagePort
  readonly spin: number
}

const program = serveParent({
  nodeId,
  href,
  transport: {
    write: (bytes) => {
      postBatch(port, bytes)
    },
    close: () => {}
  },
  listen: (receive, _closed, paced) => {
    port.on("message", spinning(port, receive, spin, paced))
  }
})

Effect.runFork(Effect.scoped(program)).addObserver(() => process.exit(0))
