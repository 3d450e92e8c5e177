/**
 * The raw worker of bench/pool.bench.ts's hand-made pool: a plain worker thread that answers
 * `{ id, a: key, b: rounds }` with `{ id, r }`, r being the stretching job of ./stretch.ts. One
 * structured-cloned message each way per job, no framework.
 */
import { parentPort } from "node:worker_threads"
import { stretch } from "./stretch.ts"

interface Job {
  readonly id: number
  readonly a: number
  readonly b: number
}

const port = parentPort!
port.on("message", (m: Job) => port.postMessage({ id: m.id, r: stretch(m.a, m.b) }))
