/**
 * The raw TCP peer of tcp.bench.ts: a plain `net` server in a child process (started with `fork()`,
 * the port reported over IPC). Each request `{ id, a, b }` is answered with `{ id, r: a + b }` in
 * length-prefixed CBOR frames (lib/frames.ts). `process.argv[2]` picks how replies are written:
 * "one-write" (one `socket.write` per reply) or "batched" (replies of one tick in one write).
 * Sockets have Nagle off (`setNoDelay`), as Troupe's do. Id 0 is one-way (the casts table): it adds
 * `a + b` to the connection's total and answers nothing; `{ id, a: -1 }` answers that total.
 */
import { createServer } from "node:net"
import { frameReader, frameWriter, makeCbor, type WriteMode } from "../lib/frames.ts"

interface AddRequest {
  readonly id: number
  readonly a: number
  readonly b: number
}

const mode = process.argv[2] as WriteMode
if (mode !== "one-write" && mode !== "batched") throw new Error(`unknown write mode ${String(mode)}`)

const server = createServer((socket) => {
  socket.setNoDelay(true)
  const cbor = makeCbor()
  const send = frameWriter(socket, cbor, mode)
  let noted = 0
  socket.on(
    "data",
    frameReader(cbor, (m: AddRequest) => {
      if (m.id === 0) noted += m.a + m.b
      else send({ id: m.id, r: m.a === -1 ? noted : m.a + m.b })
    })
  )
  socket.on("error", () => {})
})
server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  process.send!({ port: typeof address === "object" && address !== null ? address.port : 0 })
})
// the parent's IPC channel closing is the signal to stop
process.on("disconnect", () => process.exit(0))
