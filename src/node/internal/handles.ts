/**
 * Starting the nodes of a pool with node's own API: a worker thread (batches as transferred
 * ArrayBuffers over its port) or a child process (length-prefixed batches over a pipe on fd 3, so
 * that stdout and stderr stay the user's).
 */
import { spawn } from "node:child_process"
import type { Socket } from "node:net"
import { fileURLToPath } from "node:url"
import { availableParallelism } from "node:os"
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads"
import { encodeFrame, FrameReader } from "../../internal/wire/framing.ts"
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
  const worker = new Worker(entryUrl("worker"), {
    workerData: { nodeId: options.nodeId, href: options.href, port: port2, spin: options.spin },
    transferList: [port2],
    ...(options.execArgv !== undefined ? { execArgv: [...process.execArgv, ...options.execArgv] } : {})
  })
  const tracker = exitTracker()
  let crash = ""
  worker.on("error", (e) => {
    crash = `crashed: ${e instanceof Error ? e.message : String(e)}`
  })
  worker.on("exit", (code) => {
    port.close()
    tracker.exit(crash || `exited with code ${code}`)
  })
  return {
    pid: undefined,
    write: (bytes) => {
      if (tracker.exited) return
      postBatch(port, bytes)
    },
    listen: (receive) => {
      port.on("message", spinning(port, receive, options.spin))
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
 * empty (the peer shares its CPU after all) stops polling for a while. The event loop is never held
 * for more than 1 ms. Figures: docs/benchmarks.md; the decision: docs/architecture.md.
 */
export const spinning = (
  port: MessagePort,
  receive: (bytes: Uint8Array) => void,
  spinMicros: number
): ((bytes: Uint8Array) => void) => {
  if (spinMicros <= 0 || availableParallelism() < 2) return receive
  const budget = spinMicros / 1000
  let misses = 0
  let cooldown = 0
  // messages to skip polling after three empty polls in a row; doubles while polling keeps failing
  let backoff = 64
  return (bytes) => {
    receive(bytes)
    if (cooldown > 0) {
      cooldown--
      return
    }
    const start = performance.now()
    const limit = start + 1
    let deadline = start + budget
    let got = false
    while (true) {
      const now = performance.now()
      if (now > deadline || now > limit) break
      const next = receiveMessageOnPort(port)
      if (next !== undefined) {
        got = true
        receive(next.message as Uint8Array)
        deadline = performance.now() + budget
      }
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
  const child = spawn(
    process.execPath,
    [...process.execArgv, ...(options.execArgv ?? []), fileURLToPath(entryUrl("child")), options.nodeId, options.href],
    { stdio: ["inherit", "inherit", "inherit", "pipe"], ...(options.env !== undefined ? { env: options.env } : {}) }
  )
  const pipe = child.stdio[3] as Socket
  const tracker = exitTracker()
  child.on("exit", (code, signal) => tracker.exit(signal !== null ? `killed by ${signal}` : `exited with code ${code}`))
  child.on("error", (e) => tracker.exit(`could not start: ${e.message}`))
  pipe.on("error", () => {})
  return {
    pid: child.pid,
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
