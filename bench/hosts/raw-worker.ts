/**
 * The raw postMessage peer: a plain worker thread that answers `{ id, a, b }` with `{ id, r: a + b }`,
 * one structured-cloned message per call, no batching, no framework. Id 0 is one-way (the casts table):
 * it adds `a + b` to a total and answers nothing; `{ id, a: -1 }` answers that total.
 */
import { parentPort } from "node:worker_threads"

interface AddRequest {
  readonly id: number
  readonly a: number
  readonly b: number
}

const port = parentPort!
let noted = 0
port.on("message", (m: AddRequest) => {
  if (m.id === 0) noted += m.a + m.b
  else port.postMessage({ id: m.id, r: m.a === -1 ? noted : m.a + m.b })
})
