/**
 * Starting the nodes of a pool with node's own API: a worker thread (batches as transferred
 * ArrayBuffers over its port) or a child process (length-prefixed batches over a pipe on fd 3, so
 * that stdout and stderr stay the user's).
 */
import { type ChildProcess, spawn } from "node:child_process"
import type { Socket } from "node:net"
import { fileURLToPath } from "node:url"
import { availableParallelism } from "node:os"
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads"
import { DEFAULT_MAX_FRAME, encodeFrame, FrameReader } from "../../internal/wire/framing.ts"
import { entryUrl } from "./entry.ts"
import type { NodeHandle } from "./pool.ts"

const exitTracker = () => {
  let exited = false
  let how = ""
  const callbacks: Array<(how: string) => void> = []
  return {
    get exited() {
      return exited
    },
    exit(description: string) {
      if (exited) return
      exited = true
      how = description
      for (const cb of callbacks.splice(0)) cb(how)
    },
    onExit(cb: (how: string) => void) {
      if (exited) cb(how)
      else callbacks.push(cb)
    }
  }
}

/**
 * A node that could not even be started (`new Worker` or `spawn` threw: bad `execArgv`, a bad option):
 * it has already exited, saying why, so the pool reports it as it reports any node lost at start.
 */
const unstarted = (error: unknown): NodeHandle => {
  const how = `could not start: ${error instanceof Error ? error.message : String(error)}`
  return {
    pid: undefined,
    write: () => {},
    listen: () => {},
    onExit: (cb) => cb(how),
    exited: true,
    kill: () => {}
  }
}

/**
 * Posts one batch. The encoder's bytes are a view into its own large buffer, so they must be copied:
 * a small batch is copied into a V8 heap array and cloned (allocating an ArrayBuffer costs ~0.9 µs, more
 * than the copy), a large one into a fresh ArrayBuffer that is transferred rather than cloned again.
 */
export const postBatch = (port: MessagePort, bytes: Uint8Array): void => {
  if (bytes.length <= 64) return port.postMessage(new Uint8Array(bytes))
  const copy = Uint8Array.prototype.slice.call(bytes)
  port.postMessage(copy, [copy.buffer])
}

/** A worker thread running Troupe's worker entry point. */
export const startWorker = (options: {
  readonly nodeId: string
  readonly href: string
  readonly execArgv?: ReadonlyArray<string> | undefined
  readonly spin: number
}): NodeHandle => {
  const { port1: port, port2 } = new MessageChannel()
  let worker: Worker
  try {
    worker = new Worker(entryUrl("worker"), {
      workerData: { nodeId: options.nodeId, href: options.href, port: port2, spin: options.spin },
      transferList: [port2],
      ...(options.execArgv !== undefined ? { execArgv: [...process.execArgv, ...options.execArgv] } : {})
    })
  } catch (e) {
    port.close()
    return unstarted(e)
  }
  const tracker = exitTracker()
  let crash = ""
  let deliver: ((bytes: Uint8Array) => void) | undefined
  worker.on("error", (e) => {
    crash = `crashed: ${e instanceof Error ? e.message : String(e)}`
  })
  worker.on("exit", (code) => {
    // the port's "message" events and the worker's "exit" are not ordered: what the worker posted last
    // (a FAILED frame saying why it quit) may still be queued, so it is read before the exit counts
    if (deliver !== undefined) {
      for (let next = receiveMessageOnPort(port); next !== undefined; next = receiveMessageOnPort(port)) {
        deliver(next.message as Uint8Array)
      }
    }
    port.close()
    tracker.exit(crash || `exited with code ${code}`)
  })
  return {
    pid: undefined,
    write: (bytes) => {
      if (tracker.exited) return
      postBatch(port, bytes)
    },
    listen: (receive, _broken, paced) => {
      deliver = receive
      port.on("message", spinning(port, receive, options.spin, paced))
    },
    onExit: tracker.onExit,
    get exited() {
      return tracker.exited
    },
    kill: () => {
      port.close()
      void worker.terminate()
    }
  }
}

/**
 * Keeping a thread awake. Waking a sleeping thread on the other vCPU costs ~40 µs on the machines
 * measured (a round trip to a worker: ~55 µs when both sleep, ~6 µs when both poll), so after handling
 * a message each side polls its port for `spin` µs before going back to the event loop. It only pays
 * when the peer runs on another CPU: with one CPU it is off, and a side whose polls keep coming back
 * empty stops polling for a while. The event loop is never held for more than 1 ms.
 *
 * The scheduler also moves the two threads onto one CPU and apart again, and there polling and early
 * batches cost a context switch each (pipelined calls measured with both threads on one CPU: ~250k/s
 * with them, ~500k/s without). A side that is descheduled mid-poll three times without once receiving
 * a message it waited for calls `paced(true)`: the link drops its batch limit and polling stops for
 * 10 ms, then one poll probes again; `paced(false)` when a waited-for message shows the peer runs
 * apart again. Figures: docs/benchmarks.md; the decision: docs/architecture.md.
 */
export const spinning = (
  port: MessagePort,
  receive: (bytes: Uint8Array) => void,
  spinMicros: number,
  paced: (shared: boolean) => void = () => {}
): ((bytes: Uint8Array) => void) => {
  if (spinMicros <= 0 || availableParallelism() < 2) return receive
  const budget = spinMicros / 1000
  // ms between two polls that means this thread was descheduled; ms to stop polling after that
  const stall = 0.02
  const hold = 10
  let misses = 0
  let cooldown = 0
  // messages to skip polling after three empty polls in a row; doubles while polling keeps failing
  let backoff = 64
  let sharedUntil = 0
  let shared = false
  let stalls = 0
  return (bytes) => {
    receive(bytes)
    if (cooldown > 0) {
      cooldown--
      return
    }
    const start = performance.now()
    if (start < sharedUntil) return
    const limit = start + 1
    let deadline = start + budget
    let got = false
    // a message that came after an empty poll, with no stall in between: the peer runs in parallel
    let waited = false
    let empty = false
    let last = start
    while (true) {
      const now = performance.now()
      if (now - last > stall) {
        // descheduled mid-poll. Once is noise (an interrupt, the hypervisor); again and again, with no
        // message in between that came while this side waited, means the peer shares this CPU
        if (++stalls < 3) return
        sharedUntil = now + hold
        if (!shared) paced((shared = true))
        return
      }
      if (now > deadline || now > limit) break
      const next = receiveMessageOnPort(port)
      if (next !== undefined) {
        got = true
        if (empty) waited = true
        receive(next.message as Uint8Array)
        last = performance.now()
        deadline = last + budget
      } else {
        empty = true
        last = now
      }
    }
    if (waited) {
      stalls = 0
      if (shared) paced((shared = false))
    }
    if (got) {
      misses = 0
      backoff = 64
    } else if (++misses >= 3) {
      misses = 0
      cooldown = backoff
      backoff = Math.min(backoff * 2, 1 << 16)
    }
  }
}

/** A child process running Troupe's child entry point. */
export const startChild = (options: {
  readonly nodeId: string
  readonly href: string
  readonly execArgv?: ReadonlyArray<string> | undefined
  readonly env?: NodeJS.ProcessEnv | undefined
}): NodeHandle => {
  let child: ChildProcess
  try {
    child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        ...(options.execArgv ?? []),
        fileURLToPath(entryUrl("child")),
        options.nodeId,
        options.href
      ],
      { stdio: ["inherit", "inherit", "inherit", "pipe"], ...(options.env !== undefined ? { env: options.env } : {}) }
    )
  } catch (e) {
    return unstarted(e)
  }
  const pipe = child.stdio[3] as Socket
  const tracker = exitTracker()
  child.on("exit", (code, signal) => {
    const how = signal !== null ? `killed by ${signal}` : `exited with code ${code}`
    // stdio may still hold unread data at "exit" (a FAILED frame saying why the child quit): the exit
    // counts once the pipe has closed, or 50 ms later if something else keeps the pipe open
    if (pipe.destroyed) return tracker.exit(how)
    const late = setTimeout(() => tracker.exit(how), 50)
    pipe.once("close", () => {
      clearTimeout(late)
      tracker.exit(how)
    })
  })
  child.on("error", (e) => tracker.exit(`could not start: ${e.message}`))
  pipe.on("error", () => {})
  return {
    pid: child.pid,
    maxFrame: DEFAULT_MAX_FRAME,
    write: (bytes) => {
      if (!tracker.exited && pipe.writable) pipe.write(encodeFrame(bytes))
    },
    listen: (receive, broken) => {
      const reader = new FrameReader()
      pipe.on("data", (chunk: Buffer) => {
        const frames = reader.push(chunk)
        if (typeof frames === "string") return broken(frames)
        for (const frame of frames) receive(frame)
      })
    },
    onExit: tracker.onExit,
    get exited() {
      return tracker.exited
    },
    kill: () => {
      if (!tracker.exited) child.kill("SIGKILL")
    }
  }
}
