/**
 * The raw postMessage peer: a plain worker thread that answers `{ id, a, b }` with `{ id, r: a + b }`,
 * one structured-cloned message per call, no batching, no framework.
 */
import { parentPort } from "node:worker_threads"

interface AddRequest {
  readonly id: number
  readonly a: number
  readonly b: number
}

const port = parentPort!
port.on("message", (m: AddRequest) => port.postMessage({ id: m.id, r: m.a + m.b }))
