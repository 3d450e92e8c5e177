/**
 * Length-prefixed CBOR frames over a TCP socket, for the raw TCP peers of tcp.bench.ts (client side
 * here, server side in hosts/raw-tcp-server.ts). The framing is Troupe's (a 4-byte big-endian length,
 * then that many bytes of CBOR) and so is the encoder configuration (cbor-x without its record
 * extension), so that the raw peers pay for the same bytes on the wire as Troupe does.
 *
 * Two ways of writing:
 *   - "one-write": every message is encoded and handed to `socket.write` on its own;
 *   - "batched": messages produced in the same tick are coalesced: the first one queues a microtask,
 *     which encodes the lot into one buffer and makes one `socket.write` (what Troupe's link does).
 */
import { Encoder } from "cbor-x"
import type { Socket } from "node:net"

export type WriteMode = "one-write" | "batched"

/** The encoder of both raw peers: plain CBOR maps, as Troupe's own codec is configured. */
export const makeCbor = (): Encoder => new Encoder({ useRecords: false, mapsAsObjects: true } as any)

/** One frame: 4-byte big-endian length, then the bytes, in a fresh buffer the socket may keep. */
export const frame = (bytes: Uint8Array): Buffer => {
  const out = Buffer.allocUnsafe(4 + bytes.length)
  out.writeUInt32BE(bytes.length, 0)
  out.set(bytes, 4)
  return out
}

/** Splits a byte stream into frames and decodes each, calling `onMessage` for every message. */
export const frameReader = (cbor: Encoder, onMessage: (message: any) => void) => {
  let pending: Buffer | undefined
  return (chunk: Buffer): void => {
    let buf = chunk
    if (pending !== undefined) {
      buf = Buffer.concat([pending, chunk])
      pending = undefined
    }
    let at = 0
    while (buf.length - at >= 4) {
      const n = buf.readUInt32BE(at)
      if (buf.length - at - 4 < n) break
      onMessage(cbor.decode(buf.subarray(at + 4, at + 4 + n)))
      at += 4 + n
    }
    if (at < buf.length) pending = Buffer.from(buf.subarray(at))
  }
}

/** A function that sends one message over the socket, in the given write mode. */
export const frameWriter = (socket: Socket, cbor: Encoder, mode: WriteMode): ((message: unknown) => void) => {
  if (mode === "one-write") return (message) => void socket.write(frame(cbor.encode(message)))
  let queued: Array<Buffer> = []
  const flush = () => {
    const frames = queued
    queued = []
    socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames))
  }
  return (message) => {
    if (queued.push(frame(cbor.encode(message))) === 1) queueMicrotask(flush)
  }
}
