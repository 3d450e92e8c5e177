/**
 * Thread placement for the wire benchmarks (Linux, `taskset`). A round trip between two threads costs
 * very different amounts depending on whether they share a CPU: on the 2-vCPU VM of
 * docs/benchmarks.md, a message to a thread sleeping on the other vCPU has to wake that vCPU (about
 * 50 µs per round trip), while on the same vCPU it is a context switch (about 15 µs). Left alone, the
 * scheduler moves the two threads together and apart every second or so, and not the same way for every
 * system, so the sequential figures are also taken with the placement fixed: caller and peer on the
 * same CPU, and on different CPUs.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { availableParallelism } from "node:os"

/** Whether threads can be placed: Linux with taskset, two CPUs usable, and not a pinned run. */
export const canPlace = (): boolean =>
  process.platform === "linux" &&
  process.env["BENCH_PINNED"] !== "1" &&
  availableParallelism() >= 2 &&
  spawnSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" }).status === 0

const comm = (tid: string): string => {
  try {
    return readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim()
  } catch {
    return ""
  }
}

/** Thread ids of this process's worker threads (Node names them "WorkerThread"). */
export const workerThreadIds = (): ReadonlySet<number> =>
  new Set(
    readdirSync("/proc/self/task")
      .filter((tid) => comm(tid) === "WorkerThread")
      .map(Number)
  )

/**
 * The thread id of the one worker thread started since `before` was taken (call it after the worker
 * has answered once, so that its thread surely runs).
 */
export const newWorkerThread = (before: ReadonlySet<number>): number => {
  const fresh = [...workerThreadIds()].filter((tid) => !before.has(tid))
  if (fresh.length !== 1) throw new Error(`expected one new worker thread, found ${fresh.length}`)
  return fresh[0]!
}

/** Sets the CPUs one thread (a tid, or a pid for a process's main thread) may run on, e.g. "0" or "0-1". */
export const setAffinity = (tid: number, cpus: string): void => {
  execFileSync("taskset", ["-p", "-c", cpus, String(tid)], { stdio: "ignore" })
}

// read once, at load: availableParallelism() counts the CPUs the calling thread may use, so once
// withPlacement has pinned the main thread it says 1, and a restore computed then would pin for good
const everyCpu = `0-${availableParallelism() - 1}`

/** Every usable CPU when this module loaded, for restoring a thread's affinity: "0-1" on a 2-CPU machine. */
export const allCpus = (): string => everyCpu

/** A placement of the caller (this process's main thread) and the peers' threads during `body`. */
export const withPlacement = async <A>(
  caller: string,
  peers: ReadonlyArray<number>,
  peerCpus: string,
  body: () => Promise<A>
): Promise<A> => {
  setAffinity(process.pid, caller)
  for (const tid of peers) setAffinity(tid, peerCpus)
  try {
    return await body()
  } finally {
    setAffinity(process.pid, allCpus())
    for (const tid of peers) setAffinity(tid, allCpus())
  }
}
