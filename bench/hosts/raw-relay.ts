/**
 * The raw peer of refs.bench.ts: a plain worker that either answers `{ id, a, b }` with `{ id, r }`
 * (role "adder") or drives n calls through its parent (role "driver": `{ run, n, inFlight }` in,
 * `{ done: run, sum }` out), matching replies by id in a ring of slots like the other raw peers.
 */
import { parentPort, workerData } from "node:worker_threads"

const port = parentPort!
if ((workerData as { role: string }).role === "adder") {
  port.on("message", (m: { id: number; a: number; b: number }) => port.postMessage({ id: m.id, r: m.a + m.b }))
} else {
  const slots = 1024
  const waiting = new Array<((r: number) => void) | undefined>(slots).fill(undefined)
  let next = 0
  const call = (a: number, b: number) =>
    new Promise<number>((resolve) => {
      const id = ++next
      waiting[id & (slots - 1)] = resolve
      port.postMessage({ id, a, b })
    })
  const loop = async (n: number) => {
    let sum = 0
    for (let i = 0; i < n; i++) sum += await call(i, 1)
    return sum
  }
  port.on("message", async (m: { id?: number; r?: number; run?: number; n?: number; inFlight?: number }) => {
    if (m.id !== undefined) {
      const slot = m.id & (slots - 1)
      const resolve = waiting[slot]
      waiting[slot] = undefined
      return resolve?.(m.r!)
    }
    const per = m.n! / m.inFlight!
    const sums = await Promise.all(Array.from({ length: m.inFlight! }, () => loop(per)))
    port.postMessage({ done: m.run, sum: sums.reduce((a, b) => a + b, 0) })
  })
}
