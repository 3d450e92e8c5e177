/**
 * Starting the nodes of a pool with node's own API: a worker thread (batches as transferred
 * ArrayBuffers over its port) or a child process (length-prefixed batches over a pipe on fd 3, so
 * that stdout and stderr stay the user's).
 */
import { spawn } from "node:child_process"
import type { Socket } from "node:net"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
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

/** A worker thread running Troupe's worker entry point. */
export const startWorker = (options: {
  readonly nodeId: string
  readonly href: string
  readonly execArgv?: ReadonlyArray<string> | undefined
}): NodeHandle => {
  const worker = new Worker(entryUrl("worker"), {
    workerData: { nodeId: options.nodeId, href: options.href },
    ...(options.execArgv !== undefined ? { execArgv: [...process.execArgv, ...options.execArgv] } : {})
  })
  const tracker = exitTracker()
  let crash = ""
  worker.on("error", (e) => {
    crash = `crashed: ${e instanceof Error ? e.message : String(e)}`
  })
  worker.on("exit", (code) => tracker.exit(crash || `exited with code ${code}`))
  return {
    pid: undefined,
    write: (bytes) => {
      if (tracker.exited) return
      const copy = bytes.slice()
      worker.postMessage(copy, [copy.buffer])
    },
    listen: (receive) => {
      worker.on("message", receive)
    },
    onExit: tracker.onExit,
    get exited() {
      return tracker.exited
    },
    kill: () => {
      void worker.terminate()
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
