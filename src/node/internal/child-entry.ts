/**
 * Entry point of a Troupe child process: serve the host module named in argv to the parent over the
 * pipe on fd 3 (length-prefixed CBOR batches; stdout and stderr stay the user's). When the parent goes
 * away the pipe ends and the child exits, so no orphan outlives its parent.
 */
import { Effect } from "effect"
import { Socket } from "node:net"
import { DEFAULT_MAX_FRAME, encodeFrame, FrameReader } from "../../internal/wire/framing.ts"
import { serveParent } from "./host.ts"

const [nodeId, href] = process.argv.slice(2) as [string, string]
const pipe = new Socket({ fd: 3, readable: true, writable: true })

const program = serveParent({
  nodeId,
  href,
  transport: {
    write: (bytes) => void pipe.write(encodeFrame(bytes)),
    close: () => pipe.end(),
    maxFrame: DEFAULT_MAX_FRAME
  },
  listen: (receive, closed) => {
    const reader = new FrameReader()
    pipe.on("data", (chunk: Buffer) => {
      const frames = reader.push(chunk)
      if (typeof frames === "string") return closed(frames)
      for (const frame of frames) receive(frame)
    })
    pipe.on("end", () => closed("the pipe ended"))
    pipe.on("error", (e) => closed(e.message))
  }
})

Effect.runFork(Effect.scoped(program)).addObserver(() => {
  // let the last frames (a FAILED, a BYE) leave before exiting
  pipe.end(() => process.exit(0))
  setTimeout(() => process.exit(0), 500).unref()
})
